// The life of an invoice as a small state machine. The database enforces the same table in its
// command functions; this copy lets the router and the tests reason about it without I/O.

/// Where an invoice is in its life.
public enum InvoiceStage: String, Hashable, Sendable, Codable, CaseIterable {
    /// Being prepared by its initiator; content may change.
    case draft
    /// Submitted and going through the approval steps of its route.
    case approval
    /// Approved; waiting for the payer (on a payment day, or at once when urgent).
    case payment
    /// Paid; waiting for the closing documents (УПД, акт, счёт-фактура, …).
    case closingDocuments = "closing_documents"
    /// Finished: paid and documented.
    case closed
    /// Returned to its initiator for rework by a rejection; may be resubmitted or withdrawn.
    case rejected
    /// Withdrawn by its initiator; final.
    case withdrawn

    /// Whether nothing can happen to the invoice any more.
    public var isFinal: Bool { self == .closed || self == .withdrawn }

    /// Whether the invoice's content may be edited (invariant 8: submitted content is immutable).
    public var isEditable: Bool { self == .draft || self == .rejected }
}

/// Something that moves an invoice from one stage to another.
public enum StageEvent: String, Hashable, Sendable, Codable, CaseIterable {
    /// The initiator submits a draft.
    case submit
    /// The last applicable approval step is complete.
    case approvalCompleted = "approval_completed"
    /// An approver rejects (with a comment); the invoice goes back to its initiator.
    case reject
    /// The initiator resubmits a reworked invoice.
    case resubmit
    /// The payer marks the invoice paid.
    case paid
    /// The closing documents were collected and checked.
    case closingDocumentsCollected = "closing_documents_collected"
    /// The initiator withdraws the invoice before it is paid.
    case withdraw
}

extension InvoiceStage {
    /// The stage after `event`, or `nil` when the event is not legal in this stage.
    ///
    /// A timeout is deliberately not an event: an overdue step escalates, it never rejects.
    /// Withdrawal is possible until payment; after money left, only the documents can follow.
    public func after(_ event: StageEvent) -> InvoiceStage? {
        switch (self, event) {
        case (.draft, .submit): return .approval
        case (.approval, .approvalCompleted): return .payment
        case (.approval, .reject): return .rejected
        case (.rejected, .resubmit): return .approval
        case (.payment, .paid): return .closingDocuments
        case (.closingDocuments, .closingDocumentsCollected): return .closed
        case (.draft, .withdraw), (.approval, .withdraw), (.rejected, .withdraw), (.payment, .withdraw):
            return .withdrawn
        default: return nil
        }
    }

    /// Every legal (stage, event) → stage triple, e.g. for documentation and the SQL cross-check.
    public static var legalTransitions: [(from: InvoiceStage, event: StageEvent, to: InvoiceStage)] {
        allCases.flatMap { stage in
            StageEvent.allCases.compactMap { event in stage.after(event).map { (stage, event, $0) } }
        }
    }
}
