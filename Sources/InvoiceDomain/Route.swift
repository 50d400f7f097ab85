// Routes as data (DESIGN.md invariant 10): a versioned list of steps naming positions and
// relations, never people. The JSON form is documented in docs/routes.md.

/// Which side of an intercompany invoice a relation refers to.
public enum InvoiceSide: String, Hashable, Sendable, Codable {
    /// The paying subdivision (the initiator's side).
    case payer
    /// The receiving subdivision.
    case payee
}

/// Who takes part in a step, named by position or relation.
public enum ParticipantSelector: Hashable, Sendable {
    /// The initiator (only for collecting documents: they never approve or pay their own invoice).
    case initiator
    /// The head of the initiator's department (ЦФО).
    case headOfInitiatorDepartment
    /// Holders of a position in the initiator's department.
    case positionInInitiatorDepartment(PositionCode)
    /// Holders of a position anywhere in the paying subdivision (treasurer, accountant, …).
    case positionInPayingSubdivision(PositionCode)
    /// Holders of a position anywhere in the receiving subdivision.
    case positionInReceivingSubdivision(PositionCode)
    /// Holders of a group position: the position in the head office (CEO, group CFO).
    case groupPosition(PositionCode)
    /// The head of the department on one side of the invoice: the initiator's department on the
    /// payer side, the receiving department (or the receiving subdivision's top one) on the payee side.
    case headOfDepartment(InvoiceSide)
    /// Holders of a position in a department named by its code.
    case departmentPosition(department: String, position: PositionCode)
    /// The employee an advance is for (the initiator when none is given).
    case beneficiary
    /// The head of that employee's own department.
    case headOfBeneficiaryDepartment

    /// A phrase for `routes simulate`, e.g. `treasurer of the paying subdivision`.
    public var summary: String {
        switch self {
        case .initiator: return "the initiator"
        case .headOfInitiatorDepartment: return "head of the initiator's department"
        case .positionInInitiatorDepartment(let p): return "\(p) in the initiator's department"
        case .positionInPayingSubdivision(let p): return "\(p) of the paying subdivision"
        case .positionInReceivingSubdivision(let p): return "\(p) of the receiving subdivision"
        case .groupPosition(let p): return "group \(p)"
        case .headOfDepartment(let side): return "head of department on the \(side.rawValue) side"
        case .departmentPosition(let d, let p): return "\(p) of department \(d)"
        case .beneficiary: return "the employee"
        case .headOfBeneficiaryDepartment: return "head of the employee's department"
        }
    }
}

extension ParticipantSelector: Codable {
    /// Decodes a word (`"initiator"`, `"headOfInitiatorDepartment"`, `"beneficiary"`,
    /// `"headOfBeneficiaryDepartment"`) or a single-key object (`{"positionInPayingSubdivision":
    /// "treasurer"}`, `{"departmentPosition": {"department": "finance", "position": "cfo"}}`, …).
    public init(from decoder: any Decoder) throws {
        if let word = try? decoder.singleValueContainer().decode(String.self) {
            switch word {
            case "initiator": self = .initiator
            case "headOfInitiatorDepartment": self = .headOfInitiatorDepartment
            case "beneficiary": self = .beneficiary
            case "headOfBeneficiaryDepartment": self = .headOfBeneficiaryDepartment
            default:
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "unknown selector \"\(word)\""))
            }
            return
        }
        let (c, key) = try decoder.singleKey("selector")
        switch key.stringValue {
        case "positionInInitiatorDepartment":
            self = .positionInInitiatorDepartment(try c.decode(PositionCode.self, forKey: key))
        case "positionInPayingSubdivision":
            self = .positionInPayingSubdivision(try c.decode(PositionCode.self, forKey: key))
        case "positionInReceivingSubdivision":
            self = .positionInReceivingSubdivision(try c.decode(PositionCode.self, forKey: key))
        case "groupPosition": self = .groupPosition(try c.decode(PositionCode.self, forKey: key))
        case "headOfDepartment": self = .headOfDepartment(try c.decode(InvoiceSide.self, forKey: key))
        case "departmentPosition":
            let named = try c.decode(NamedPosition.self, forKey: key)
            self = .departmentPosition(department: named.department, position: named.position)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c, debugDescription: "unknown selector \"\(key.stringValue)\"")
        }
    }

    /// Encodes the form `init(from:)` reads.
    public func encode(to encoder: any Encoder) throws {
        let word: String?
        switch self {
        case .initiator: word = "initiator"
        case .headOfInitiatorDepartment: word = "headOfInitiatorDepartment"
        case .beneficiary: word = "beneficiary"
        case .headOfBeneficiaryDepartment: word = "headOfBeneficiaryDepartment"
        default: word = nil
        }
        if let word {
            var single = encoder.singleValueContainer()
            try single.encode(word)
            return
        }
        var c = encoder.container(keyedBy: RouteFileKey.self)
        switch self {
        case .initiator, .headOfInitiatorDepartment, .beneficiary, .headOfBeneficiaryDepartment: break
        case .positionInInitiatorDepartment(let p): try c.encode(p, forKey: .init("positionInInitiatorDepartment"))
        case .positionInPayingSubdivision(let p): try c.encode(p, forKey: .init("positionInPayingSubdivision"))
        case .positionInReceivingSubdivision(let p): try c.encode(p, forKey: .init("positionInReceivingSubdivision"))
        case .groupPosition(let p): try c.encode(p, forKey: .init("groupPosition"))
        case .headOfDepartment(let side): try c.encode(side, forKey: .init("headOfDepartment"))
        case .departmentPosition(let d, let p):
            try c.encode(NamedPosition(department: d, position: p), forKey: .init("departmentPosition"))
        }
    }

    private struct NamedPosition: Codable {
        var department: String
        var position: PositionCode

        private enum CodingKeys: String, CodingKey, CaseIterable { case department, position }

        init(department: String, position: PositionCode) {
            self.department = department
            self.position = position
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
            department = try c.decode(String.self, forKey: .department)
            position = try c.decode(PositionCode.self, forKey: .position)
        }
    }
}

/// How the participants of a step decide.
public enum ApprovalMode: Hashable, Sendable {
    /// One after another, in the listed order; each must approve.
    case sequential
    /// All at once; each must approve.
    case allInParallel
    /// All are asked; the first approval completes the step.
    case anyOne
    /// All are asked; `n` approvals complete the step.
    case quorum(Int)

    /// How many approvals complete the step with `participants` people asked.
    public func approvalsNeeded(participants: Int) -> Int {
        switch self {
        case .sequential, .allInParallel: return participants
        case .anyOne: return min(1, participants)
        case .quorum(let n): return n
        }
    }
}

extension ApprovalMode: Codable {
    /// Decodes `"sequential"`, `"allInParallel"`, `"anyOne"` or `{"quorum": n}`.
    public init(from decoder: any Decoder) throws {
        if let word = try? decoder.singleValueContainer().decode(String.self) {
            switch word {
            case "sequential": self = .sequential
            case "allInParallel": self = .allInParallel
            case "anyOne": self = .anyOne
            default:
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "unknown mode \"\(word)\""))
            }
            return
        }
        let (c, key) = try decoder.singleKey("mode")
        guard key.stringValue == "quorum" else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "unknown mode")
        }
        self = .quorum(try c.decode(Int.self, forKey: key))
    }

    /// Encodes the form `init(from:)` reads.
    public func encode(to encoder: any Encoder) throws {
        let word: String
        switch self {
        case .sequential: word = "sequential"
        case .allInParallel: word = "allInParallel"
        case .anyOne: word = "anyOne"
        case .quorum(let n):
            var c = encoder.container(keyedBy: RouteFileKey.self)
            try c.encode(n, forKey: .init("quorum"))
            return
        }
        var single = encoder.singleValueContainer()
        try single.encode(word)
    }
}

/// What a step asks its participants to do.
public enum StepKind: String, Hashable, Sendable, Codable {
    /// Approve or reject (a rejection returns the invoice to its initiator).
    case approve
    /// Pay through the payment registry and mark paid.
    case pay
    /// Collect (and check) the closing documents.
    case collectClosingDocuments
}

/// How long participants have to act.
public enum StepDeadline: Hashable, Sendable {
    /// This many business hours after the step starts.
    case businessHours(Int)
    /// The end of the working day on which the step starts (the next working day's end when it
    /// starts outside working hours): "same day" for customs.
    case endOfBusinessDay
}

extension StepDeadline: Codable {
    /// Decodes `{"businessHours": 9}` or `"endOfBusinessDay"`.
    public init(from decoder: any Decoder) throws {
        if let word = try? decoder.singleValueContainer().decode(String.self), word == "endOfBusinessDay" {
            self = .endOfBusinessDay
            return
        }
        let (c, key) = try decoder.singleKey("deadline")
        guard key.stringValue == "businessHours" else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "unknown deadline")
        }
        self = .businessHours(try c.decode(Int.self, forKey: key))
    }

    /// Encodes the form `init(from:)` reads.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .endOfBusinessDay:
            var single = encoder.singleValueContainer()
            try single.encode("endOfBusinessDay")
        case .businessHours(let h):
            var c = encoder.container(keyedBy: RouteFileKey.self)
            try c.encode(h, forKey: .init("businessHours"))
        }
    }
}

/// Where an overdue step goes. There is deliberately no "reject": a timeout never rejects.
public enum EscalationTarget: String, Hashable, Sendable, Codable {
    /// The head of each overdue participant's department, and further up if that is the participant.
    case approversHead
    /// Nobody: only reminders (e.g. for a collector whose documents depend on a supplier).
    case remindOnly
}

/// When a payment step's payer may pay.
public struct PaymentTiming: Hashable, Sendable, Codable {
    /// Pay only on the calendar's payment days (through the payment registry).
    public var onPaymentDays: Bool
    /// When this holds, pay at once, outside payment days (urgent, customs).
    public var immediatelyWhen: RouteCondition
    /// Whether settlement by netting (взаимозачёт) may replace a transfer.
    public var nettingAllowed: Bool
    /// Creates a timing rule.
    public init(onPaymentDays: Bool, immediatelyWhen: RouteCondition, nettingAllowed: Bool = false) {
        self.onPaymentDays = onPaymentDays
        self.immediatelyWhen = immediatelyWhen
        self.nettingAllowed = nettingAllowed
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case onPaymentDays, immediatelyWhen, nettingAllowed }

    /// Decodes the route-file form, refusing unknown keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        self.init(
            onPaymentDays: try c.decode(Bool.self, forKey: .onPaymentDays),
            immediatelyWhen: try c.decode(RouteCondition.self, forKey: .immediatelyWhen),
            nettingAllowed: try c.decode(Bool.self, forKey: .nettingAllowed))
    }
}

/// What a closing-documents due date counts from.
public enum DueAnchor: String, Hashable, Sendable, Codable {
    /// The payment date.
    case payment
    /// The last day of the trip (the payment date when the invoice names no trip).
    case tripEnd
}

/// When closing documents are due: a number of business days after an anchor date.
public struct ClosingDocumentsDue: Hashable, Sendable, Codable {
    /// Business days to add.
    public var businessDays: Int
    /// What they count from.
    public var after: DueAnchor
    /// Creates a due rule.
    public init(businessDays: Int, after: DueAnchor) {
        self.businessDays = businessDays
        self.after = after
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case businessDays, after }

    /// Decodes the route-file form, refusing unknown keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        self.init(
            businessDays: try c.decode(Int.self, forKey: .businessDays),
            after: try c.decode(DueAnchor.self, forKey: .after))
    }
}

/// What a closing-documents step collects and by when.
public struct ClosingDocumentsRule: Hashable, Sendable, Codable {
    /// The documents, in words (`УПД`, `ТОРГ-12 + счёт-фактура`).
    public var documents: [String]
    /// The due date rule.
    public var due: ClosingDocumentsDue
    /// Creates a rule.
    public init(documents: [String], due: ClosingDocumentsDue) {
        self.documents = documents
        self.due = due
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case documents, due }

    /// Decodes the route-file form, refusing unknown keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        self.init(
            documents: try c.decode([String].self, forKey: .documents),
            due: try c.decode(ClosingDocumentsDue.self, forKey: .due))
    }
}

/// One participant slot of a step: a selector, applied only when its condition holds.
public struct StepParticipant: Hashable, Sendable, Codable {
    /// Who.
    public var selector: ParticipantSelector
    /// Only when this holds (the warehouse manager only "when goods were already received").
    public var when: RouteCondition
    /// Creates a participant slot.
    public init(_ selector: ParticipantSelector, when: RouteCondition = .always) {
        self.selector = selector
        self.when = when
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case selector, when }

    /// Decodes the route-file form, refusing unknown keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        self.init(
            try c.decode(ParticipantSelector.self, forKey: .selector),
            when: try c.decode(RouteCondition.self, forKey: .when))
    }
}

/// One step of a route.
public struct RouteStep: Hashable, Sendable, Codable {
    /// Unique within the route (`cfo`, `payment`); tasks and rework refer to it.
    public var id: String
    /// What participants do.
    public var kind: StepKind
    /// A short human title, Russian (shown in mails and the timeline).
    public var title: String
    /// Who takes part.
    public var participants: [StepParticipant]
    /// How they decide.
    public var mode: ApprovalMode
    /// Whether the step applies to an invoice at all.
    public var condition: RouteCondition
    /// How long participants have.
    public var deadline: StepDeadline
    /// When to remind, in percent of the deadline's business time (50 = half of it).
    public var reminderAtPercent: Int
    /// Where the step goes when overdue.
    public var escalation: EscalationTarget
    /// For `pay` steps: when the payer may pay.
    public var payment: PaymentTiming?
    /// For `collectClosingDocuments` steps: what and by when.
    public var closingDocuments: ClosingDocumentsRule?

    /// Creates a step.
    public init(
        id: String, kind: StepKind, title: String, participants: [StepParticipant], mode: ApprovalMode = .allInParallel,
        condition: RouteCondition = .always, deadline: StepDeadline = .businessHours(9), reminderAtPercent: Int = 50,
        escalation: EscalationTarget = .approversHead, payment: PaymentTiming? = nil,
        closingDocuments: ClosingDocumentsRule? = nil
    ) {
        self.id = id
        self.kind = kind
        self.title = title
        self.participants = participants
        self.mode = mode
        self.condition = condition
        self.deadline = deadline
        self.reminderAtPercent = reminderAtPercent
        self.escalation = escalation
        self.payment = payment
        self.closingDocuments = closingDocuments
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case id, kind, title, participants, mode, condition, deadline, reminderAtPercent, escalation, payment
        case closingDocuments
    }

    /// Decodes the route-file form, refusing unknown keys: a misspelt field must not silently vanish.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(String.self, forKey: .id), kind: try c.decode(StepKind.self, forKey: .kind),
            title: try c.decode(String.self, forKey: .title),
            participants: try c.decode([StepParticipant].self, forKey: .participants),
            mode: try c.decode(ApprovalMode.self, forKey: .mode),
            condition: try c.decode(RouteCondition.self, forKey: .condition),
            deadline: try c.decode(StepDeadline.self, forKey: .deadline),
            reminderAtPercent: try c.decode(Int.self, forKey: .reminderAtPercent),
            escalation: try c.decode(EscalationTarget.self, forKey: .escalation),
            payment: try c.decodeIfPresent(PaymentTiming.self, forKey: .payment),
            closingDocuments: try c.decodeIfPresent(ClosingDocumentsRule.self, forKey: .closingDocuments))
    }
}

/// An immutable version of the route of one invoice type. An invoice keeps the version it was
/// submitted with; editing a route creates the next version.
public struct RouteVersion: Hashable, Sendable, Codable {
    /// The invoice type this route is for.
    public var type: InvoiceTypeCode
    /// 1, 2, …; increases with every change.
    public var version: Int
    /// The type's Russian name (оплата поставщику товара).
    public var name: String
    /// Positions allowed to initiate this type; `nil` for anyone.
    public var initiatorPositions: [PositionCode]?
    /// When set, only holders of these positions (plus participants, the initiator and auditors)
    /// may see invoices of this type, e.g. payroll.
    public var visibleOnlyTo: [PositionCode]?
    /// The steps, in order.
    public var steps: [RouteStep]

    /// Creates a route version.
    public init(
        type: InvoiceTypeCode, version: Int, name: String, initiatorPositions: [PositionCode]? = nil,
        visibleOnlyTo: [PositionCode]? = nil, steps: [RouteStep]
    ) {
        self.type = type
        self.version = version
        self.name = name
        self.initiatorPositions = initiatorPositions
        self.visibleOnlyTo = visibleOnlyTo
        self.steps = steps
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case type, version, name, initiatorPositions, visibleOnlyTo, steps
    }

    /// Decodes the route-file form, refusing unknown keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        self.init(
            type: try c.decode(InvoiceTypeCode.self, forKey: .type), version: try c.decode(Int.self, forKey: .version),
            name: try c.decode(String.self, forKey: .name),
            initiatorPositions: try c.decodeIfPresent([PositionCode].self, forKey: .initiatorPositions),
            visibleOnlyTo: try c.decodeIfPresent([PositionCode].self, forKey: .visibleOnlyTo),
            steps: try c.decode([RouteStep].self, forKey: .steps))
    }
}

/// The content of a route file: a format number and the routes it holds.
public struct RouteFile: Hashable, Sendable, Codable {
    /// The file format version; only 1 exists.
    public var format: Int
    /// One route version per invoice type.
    public var routes: [RouteVersion]
    /// Creates a file's content.
    public init(format: Int = 1, routes: [RouteVersion]) {
        self.format = format
        self.routes = routes
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case format, routes }

    /// Decodes a route file, refusing unknown keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        self.init(
            format: try c.decode(Int.self, forKey: .format), routes: try c.decode([RouteVersion].self, forKey: .routes))
    }
}

extension RouteFile {
    /// What is wrong with the file as a whole and with each route, prefixed by its type; empty
    /// when it can be imported.
    public var problems: [String] {
        var found: [String] = []
        if format != 1 { found.append("unknown format \(format); this version reads format 1") }
        var seen: Set<InvoiceTypeCode> = []
        for route in routes {
            if !seen.insert(route.type).inserted { found.append("\(route.type): more than one route in the file") }
            found += route.problems.map { "\(route.type): \($0)" }
        }
        return found
    }
}
