/// The version of this build of InvoiceFlow.
public enum InvoiceFlowVersion {
    /// Semantic version of the release.
    public static let current = "0.1.0"
}
