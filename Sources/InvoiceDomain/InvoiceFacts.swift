// What routing needs to know about an invoice: a flat value the store fills from its row.

/// The code of an invoice type (`supplier_goods`, `payroll`, …), the key of its routes.
public struct InvoiceTypeCode: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The code, lower snake case by convention.
    public var rawValue: String
    /// Wraps a code.
    public init(_ rawValue: String) { self.rawValue = rawValue }
    /// Allows `"payroll"` where a type is expected.
    public init(stringLiteral value: String) { rawValue = value }
    /// Alphabetical order.
    public static func < (l: InvoiceTypeCode, r: InvoiceTypeCode) -> Bool { l.rawValue < r.rawValue }
    /// The code itself.
    public var description: String { rawValue }
    /// Decodes a bare string.
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    /// Encodes a bare string.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// 1. Оплата поставщику товара.
    public static let supplierGoods: InvoiceTypeCode = "supplier_goods"
    /// 2. Зарплата и выплаты персоналу.
    public static let payroll: InvoiceTypeCode = "payroll"
    /// 3. Прочие расходы и услуги.
    public static let operatingExpenses: InvoiceTypeCode = "operating_expenses"
    /// 4. Внутригрупповые расчёты.
    public static let intercompany: InvoiceTypeCode = "intercompany"
    /// 5. Логистика, ВЭД, таможня.
    public static let logisticsCustoms: InvoiceTypeCode = "logistics_customs"
    /// 6. Подотчёт, командировки.
    public static let employeeAdvance: InvoiceTypeCode = "employee_advance"
}

/// A yes/no fact about an invoice that route conditions may test.
public enum InvoiceFlag: String, Hashable, Comparable, Sendable, Codable, CaseIterable {
    /// Marked urgent: paid outside payment days.
    case urgent
    /// Not covered by the budget of the initiator's department.
    case outsideBudget
    /// Between two subdivisions of the group.
    case intercompany
    /// A customs payment (duties, fees).
    case customs
    /// The goods were already received at the warehouse.
    case goodsReceived
    /// The counterparty has not been paid before.
    case newCounterparty

    /// Declaration order.
    public static func < (l: InvoiceFlag, r: InvoiceFlag) -> Bool {
        allCases.firstIndex(of: l)! < allCases.firstIndex(of: r)!
    }
}

/// The facts of one invoice that routing decisions depend on.
public struct InvoiceFacts: Hashable, Sendable, Codable {
    /// The invoice type.
    public var type: InvoiceTypeCode
    /// The amount to pay, in the invoice's currency.
    public var amount: Money
    /// The yes/no facts that hold.
    public var flags: Set<InvoiceFlag>
    /// The prepaid share of the amount in basis points (5000 = 50 %); 0 when paid after delivery.
    public var prepaymentBasisPoints: Int
    /// Who registered and submitted the invoice.
    public var initiator: EmployeeID
    /// The initiator's department (ЦФО) the invoice is charged to.
    public var initiatorDepartment: DepartmentID
    /// The subdivision that pays.
    public var payingSubdivision: SubdivisionID
    /// The subdivision that is paid, for intercompany invoices.
    public var receivingSubdivision: SubdivisionID?
    /// The department on the receiving side that confirms the delivery (intercompany); when absent
    /// the receiving subdivision's top department is used.
    public var receivingDepartment: DepartmentID?
    /// The employee an advance or travel payment is for; the initiator when absent.
    public var beneficiary: EmployeeID?
    /// The employee's department for an advance; the initiator's department when absent.
    public var beneficiaryDepartment: DepartmentID?
    /// Last day of a business trip, for the expense-report due date.
    public var tripEnd: CalendarDate?

    /// Creates the facts of an invoice.
    public init(
        type: InvoiceTypeCode, amount: Money, flags: Set<InvoiceFlag> = [], prepaymentBasisPoints: Int = 0,
        initiator: EmployeeID, initiatorDepartment: DepartmentID, payingSubdivision: SubdivisionID,
        receivingSubdivision: SubdivisionID? = nil, receivingDepartment: DepartmentID? = nil,
        beneficiary: EmployeeID? = nil, beneficiaryDepartment: DepartmentID? = nil, tripEnd: CalendarDate? = nil
    ) {
        self.type = type
        self.amount = amount
        self.flags = flags
        self.prepaymentBasisPoints = prepaymentBasisPoints
        self.initiator = initiator
        self.initiatorDepartment = initiatorDepartment
        self.payingSubdivision = payingSubdivision
        self.receivingSubdivision = receivingSubdivision
        self.receivingDepartment = receivingDepartment
        self.beneficiary = beneficiary
        self.beneficiaryDepartment = beneficiaryDepartment
        self.tripEnd = tripEnd
    }
}
