@testable import InvoiceDomain

/// A small wholesale group for the resolution tests: a head office, a warehouse and a shop.
///
/// ```
/// head office (1)                       warehouse (2)                    shop (3)
///  10 management   ceo: 1                20 warehouse  head: 20           30 shop  head: 30
///   11 finance     cfo: 2                 21 logistics head (logistics    31 shop_accounting
///    13 accounting chief: 5                  manager): 22, logistician 23    head (chief accountant): —
///                  treasurer 6, accountants 7 8, clerk 9, payroll 10       clerk 32, treasurer 33
///   12 purchasing  head: 3, buyer 4       22 warehouse_accounting
///   14 marketing   head: 11, marketer 12     chief 27, treasurer 24, clerk 25, accountant 26
///                                         warehouse manager 21 (in 20)
/// ```
enum TestCompany {
    static let headOffice = SubdivisionID(1)
    static let warehouse = SubdivisionID(2)
    static let shop = SubdivisionID(3)

    static let management = DepartmentID(10)
    static let finance = DepartmentID(11)
    static let purchasing = DepartmentID(12)
    static let accounting = DepartmentID(13)
    static let marketing = DepartmentID(14)
    static let warehouseTop = DepartmentID(20)
    static let logistics = DepartmentID(21)
    static let warehouseAccounting = DepartmentID(22)
    static let shopTop = DepartmentID(30)
    static let shopAccounting = DepartmentID(31)

    static let ceo = EmployeeID(1)
    static let cfo = EmployeeID(2)
    static let headOfPurchasing = EmployeeID(3)
    static let buyer = EmployeeID(4)
    static let chiefAccountant = EmployeeID(5)
    static let treasurer = EmployeeID(6)
    static let accountantA = EmployeeID(7)
    static let accountantB = EmployeeID(8)
    static let documentClerk = EmployeeID(9)
    static let payrollAccountant = EmployeeID(10)
    static let headOfMarketing = EmployeeID(11)
    static let marketer = EmployeeID(12)
    static let warehouseDirector = EmployeeID(20)
    static let warehouseManager = EmployeeID(21)
    static let logisticsManager = EmployeeID(22)
    static let logistician = EmployeeID(23)
    static let warehouseTreasurer = EmployeeID(24)
    static let warehouseClerk = EmployeeID(25)
    static let warehouseAccountant = EmployeeID(26)
    static let warehouseChiefAccountant = EmployeeID(27)
    static let shopHead = EmployeeID(30)
    static let shopClerk = EmployeeID(32)
    static let shopTreasurer = EmployeeID(33)

    /// Tuesday 4 March 2025, noon in Moscow.
    static let moment = msk("2025-03-04", 12)
    static let always = ValidityRange(from: msk("2020-01-01", 0))

    static func snapshot(substitutions: [Substitution] = [], at moment: Instant = moment) -> OrgSnapshot {
        let assignments: [(Int64, DepartmentID, PositionCode)] = [
            (1, management, .ceo), (2, finance, .cfo), (3, purchasing, .headOfPurchasing), (4, purchasing, "buyer"),
            (5, accounting, .chiefAccountant), (6, accounting, .treasurer), (7, accounting, .accountant),
            (8, accounting, .accountant), (9, accounting, .documentClerk), (10, accounting, .payrollAccountant),
            (11, marketing, .headOfDepartment), (12, marketing, "marketer"),
            (20, warehouseTop, .headOfDepartment), (21, warehouseTop, .warehouseManager),
            (22, logistics, .logisticsManager), (23, logistics, "logistician"),
            (24, warehouseAccounting, .treasurer), (25, warehouseAccounting, .documentClerk),
            (26, warehouseAccounting, .accountant), (27, warehouseAccounting, .chiefAccountant),
            (30, shopTop, .headOfDepartment), (32, shopAccounting, .documentClerk), (33, shopAccounting, .treasurer),
        ]
        return OrgSnapshot(
            moment: moment,
            subdivisions: [
                Subdivision(id: headOffice, code: "head_office", name: "Головной офис", isHeadOffice: true),
                Subdivision(id: warehouse, code: "warehouse", name: "Оптовый склад"),
                Subdivision(id: shop, code: "shop", name: "Розничный магазин"),
            ],
            departments: [
                Department(
                    id: management, code: "management", name: "Дирекция", subdivision: headOffice, parent: nil,
                    headPosition: .ceo),
                Department(
                    id: finance, code: "finance", name: "Финансы", subdivision: headOffice, parent: management,
                    headPosition: .cfo),
                Department(
                    id: purchasing, code: "purchasing", name: "Закупки", subdivision: headOffice, parent: management,
                    headPosition: .headOfPurchasing),
                Department(
                    id: accounting, code: "accounting", name: "Бухгалтерия", subdivision: headOffice, parent: finance,
                    headPosition: .chiefAccountant),
                Department(
                    id: marketing, code: "marketing", name: "Маркетинг", subdivision: headOffice, parent: management),
                Department(id: warehouseTop, code: "warehouse", name: "Склад", subdivision: warehouse, parent: nil),
                Department(
                    id: logistics, code: "logistics", name: "Логистика", subdivision: warehouse, parent: warehouseTop,
                    headPosition: .logisticsManager),
                Department(
                    id: warehouseAccounting, code: "warehouse_accounting", name: "Бухгалтерия склада",
                    subdivision: warehouse, parent: warehouseTop, headPosition: .chiefAccountant),
                Department(id: shopTop, code: "shop", name: "Магазин", subdivision: shop, parent: nil),
                Department(
                    id: shopAccounting, code: "shop_accounting", name: "Бухгалтерия магазина", subdivision: shop,
                    parent: shopTop, headPosition: .chiefAccountant),
            ],
            assignments: assignments.map {
                Assignment(employee: EmployeeID($0.0), department: $0.1, position: $0.2, validity: always)
            },
            substitutions: substitutions)
    }

    /// The facts of an invoice with sensible defaults: an operating expense of the marketer.
    static func facts(
        _ type: InvoiceTypeCode = .operatingExpenses, _ amount: Money = .rub(10_000), flags: Set<InvoiceFlag> = [],
        prepayment: Int = 0, initiator: EmployeeID = marketer, department: DepartmentID = marketing,
        paying: SubdivisionID = headOffice, receiving: SubdivisionID? = nil, beneficiary: EmployeeID? = nil,
        tripEnd: CalendarDate? = nil
    ) -> InvoiceFacts {
        InvoiceFacts(
            type: type, amount: amount, flags: flags, prepaymentBasisPoints: prepayment, initiator: initiator,
            initiatorDepartment: department, payingSubdivision: paying, receivingSubdivision: receiving,
            beneficiary: beneficiary, tripEnd: tripEnd)
    }

    /// An approval step with the given participants, for mode tests.
    static func step(_ selectors: [ParticipantSelector], mode: ApprovalMode, kind: StepKind = .approve) -> RouteStep {
        RouteStep(id: "test", kind: kind, title: "Test", participants: selectors.map { .init($0) }, mode: mode)
    }
}
