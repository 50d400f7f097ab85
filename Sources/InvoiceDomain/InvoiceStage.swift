// The life of an invoice as a small state machine. The database enforces the same table in its
// command functions (0007–0009: submit, resubmit, return_for_rework, withdraw, decide, mark paid,
// daemon_set_stage); this copy lets the router and the tests reason about it without I/O.

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
    /// Rejected by an approver (with a comment) and back with its initiator, who takes it back to
    /// draft for rework or withdraws it.
    case rejected
    /// Withdrawn by its initiator; final.
    case withdrawn

    /// Whether nothing can happen to the invoice any more.
    public var isFinal: Bool { self == .closed || self == .withdrawn }

    /// Whether the invoice's content may be edited (invariant 8: submitted content is immutable;
    /// a rejected invoice is first returned to draft, keeping its history).
    public var isEditable: Bool { self == .draft }
}

/// Something that moves an invoice from one stage to another.
public enum StageEvent: String, Hashable, Sendable, Codable, CaseIterable {
    /// The initiator submits a draft.
    case submit
    /// The last applicable approval step is complete.
    case approvalCompleted = "approval_completed"
    /// An approver rejects (with a comment); the invoice goes back to its initiator.
    case reject
    /// The invoice goes back to draft for rework (from approval, or after a rejection).
    case returnForRework = "return_for_rework"
    /// The initiator submits a reworked draft again (only the remaining approvers are asked).
    case resubmit
    /// The payer marks the invoice paid.
    case paid
    /// The closing documents were collected and checked.
    case closingDocumentsCollected = "closing_documents_collected"
    /// The initiator withdraws the invoice before it reaches payment.
    case withdraw
}

extension InvoiceStage {
    /// The stage after `event`, or `nil` when the event is not legal in this stage.
    ///
    /// A timeout is deliberately not an event: an overdue step escalates, it never rejects.
    /// Withdrawal is possible until the invoice is approved for payment; after that the payer and
    /// then the documents decide.
    public func after(_ event: StageEvent) -> InvoiceStage? {
        switch (self, event) {
        case (.draft, .submit), (.draft, .resubmit): return .approval
        case (.approval, .approvalCompleted): return .payment
        case (.approval, .reject): return .rejected
        case (.approval, .returnForRework), (.rejected, .returnForRework): return .draft
        case (.payment, .paid): return .closingDocuments
        case (.closingDocuments, .closingDocumentsCollected): return .closed
        case (.draft, .withdraw), (.approval, .withdraw), (.rejected, .withdraw):
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
