// What changed between two versions of a route, for `invoiceflow routes import` to report before
// it stores a new version.

/// One difference between two versions of a route.
public enum RouteChange: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The type's name, initiator positions or visibility changed.
    case routeSettings(field: String)
    /// A step exists only in the new version.
    case stepAdded(id: String)
    /// A step exists only in the old version.
    case stepRemoved(id: String)
    /// A step exists in both; these of its fields differ.
    case stepChanged(id: String, fields: [String])
    /// The same steps appear in another order.
    case stepsReordered(old: [String], new: [String])

    /// One English line, e.g. `step ceo changed: condition, deadline`.
    public var description: String {
        switch self {
        case .routeSettings(let field): return "route \(field) changed"
        case .stepAdded(let id): return "step \(id) added"
        case .stepRemoved(let id): return "step \(id) removed"
        case .stepChanged(let id, let fields): return "step \(id) changed: " + fields.joined(separator: ", ")
        case .stepsReordered(let old, let new):
            return "steps reordered: " + old.joined(separator: " → ") + " became " + new.joined(separator: " → ")
        }
    }
}

extension RouteVersion {
    /// The differences from `old` to `self`, in a stable order; empty when only the version number differs.
    public func changes(from old: RouteVersion) -> [RouteChange] {
        var result: [RouteChange] = []
        if name != old.name { result.append(.routeSettings(field: "name")) }
        if initiatorPositions != old.initiatorPositions { result.append(.routeSettings(field: "initiatorPositions")) }
        if visibleOnlyTo != old.visibleOnlyTo { result.append(.routeSettings(field: "visibleOnlyTo")) }
        let oldIDs = old.steps.map(\.id)
        let newIDs = steps.map(\.id)
        for id in oldIDs where !newIDs.contains(id) { result.append(.stepRemoved(id: id)) }
        for step in steps {
            guard let before = old.steps.first(where: { $0.id == step.id }) else {
                result.append(.stepAdded(id: step.id))
                continue
            }
            var fields: [String] = []
            if step.kind != before.kind { fields.append("kind") }
            if step.title != before.title { fields.append("title") }
            if step.participants != before.participants { fields.append("participants") }
            if step.mode != before.mode { fields.append("mode") }
            if step.condition != before.condition { fields.append("condition") }
            if step.deadline != before.deadline { fields.append("deadline") }
            if step.reminderAtPercent != before.reminderAtPercent { fields.append("reminderAtPercent") }
            if step.escalation != before.escalation { fields.append("escalation") }
            if step.payment != before.payment { fields.append("payment") }
            if step.closingDocuments != before.closingDocuments { fields.append("closingDocuments") }
            if !fields.isEmpty { result.append(.stepChanged(id: step.id, fields: fields)) }
        }
        let common = newIDs.filter(oldIDs.contains)
        if common != oldIDs.filter(newIDs.contains) {
            result.append(.stepsReordered(old: oldIDs.filter(newIDs.contains), new: common))
        }
        return result
    }
}
