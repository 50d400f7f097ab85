// Rework after a rejection: by default only those who had not yet approved, plus whoever
// rejected, approve again; earlier approvals carry over to the resubmitted round.

/// A participant's decision in an approval round.
public enum ApprovalDecision: String, Hashable, Sendable, Codable {
    /// Approved.
    case approved
    /// Rejected (with a comment); this returned the invoice to its initiator.
    case rejected
    /// Had not decided when the round ended.
    case pending
}

/// One participant's decision in one step of a round. The slot is identified by the step and the
/// position holder (`actingFor` when a deputy acted, else the actor), so an approval given by a
/// deputy still counts after the holder is back.
public struct RoundDecision: Hashable, Sendable, Codable {
    /// The step.
    public var stepID: String
    /// Who acted.
    public var actor: EmployeeID
    /// The holder a deputy acted for, `nil` when the actor acted for themselves.
    public var actingFor: EmployeeID?
    /// The decision.
    public var decision: ApprovalDecision
    /// Creates a decision record.
    public init(stepID: String, actor: EmployeeID, actingFor: EmployeeID? = nil, decision: ApprovalDecision) {
        self.stepID = stepID
        self.actor = actor
        self.actingFor = actingFor
        self.decision = decision
    }
    /// The position holder the decision belongs to.
    public var holder: EmployeeID { actingFor ?? actor }
}

/// How much of a previous round counts after resubmission.
public enum ReworkPolicy: String, Hashable, Sendable, Codable {
    /// Approvals carry over; those who had not approved, and whoever rejected, approve again.
    case keepApprovals
    /// Everybody approves again (for deployments that want it).
    case everyoneAgain
}

/// The approval slots of a resubmitted invoice that are already satisfied.
public struct ResubmissionRound: Hashable, Sendable, Codable {
    /// Approvals carried over from the previous round; these slots are not asked again.
    public var carriedOver: [RoundDecision]
    /// The slots that must decide again: pending ones and the rejecter's.
    public var mustDecideAgain: [RoundDecision]

    /// Builds the next round from the previous round's decisions.
    public init(previous: [RoundDecision], policy: ReworkPolicy = .keepApprovals) {
        switch policy {
        case .keepApprovals:
            carriedOver = previous.filter { $0.decision == .approved }
            mustDecideAgain = previous.filter { $0.decision != .approved }
        case .everyoneAgain:
            carriedOver = []
            mustDecideAgain = previous
        }
    }

    /// Whether the holder must (again) decide in this step. Slots the previous round never
    /// reached (later steps) are not in either list and are asked as usual.
    public func needsDecision(stepID: String, holder: EmployeeID) -> Bool {
        !carriedOver.contains { $0.stepID == stepID && $0.holder == holder }
    }

    /// The steps whose every slot carried over: the router skips them on resubmission.
    public func completedSteps(required: [String: Set<EmployeeID>]) -> Set<String> {
        Set(
            required.compactMap { step, holders in
                holders.allSatisfy { !needsDecision(stepID: step, holder: $0) } ? step : nil
            })
    }
}
