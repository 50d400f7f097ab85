// The company structure as of one moment. Routes name positions and relations, never people; this
// snapshot turns them into the people holding those positions at that moment.

/// The database id of an employee.
public struct EmployeeID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The `bigint` id.
    public var rawValue: Int64
    /// Wraps an id.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    /// Numeric order.
    public static func < (l: EmployeeID, r: EmployeeID) -> Bool { l.rawValue < r.rawValue }
    /// `employee#12`.
    public var description: String { "employee#\(rawValue)" }
    /// Decodes a bare number.
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }
    /// Encodes a bare number.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The database id of a department.
public struct DepartmentID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The `bigint` id.
    public var rawValue: Int64
    /// Wraps an id.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    /// Numeric order.
    public static func < (l: DepartmentID, r: DepartmentID) -> Bool { l.rawValue < r.rawValue }
    /// `department#3`.
    public var description: String { "department#\(rawValue)" }
    /// Decodes a bare number.
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }
    /// Encodes a bare number.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The database id of a subdivision (a tenant: a legal entity or a separate unit).
public struct SubdivisionID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The `bigint` id.
    public var rawValue: Int64
    /// Wraps an id.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    /// Numeric order.
    public static func < (l: SubdivisionID, r: SubdivisionID) -> Bool { l.rawValue < r.rawValue }
    /// `subdivision#1`.
    public var description: String { "subdivision#\(rawValue)" }
    /// Decodes a bare number.
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }
    /// Encodes a bare number.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A position's stable code, as routes name it (`cfo`, `treasurer`, …).
public struct PositionCode: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The code, lower snake case by convention.
    public var rawValue: String
    /// Wraps a code.
    public init(_ rawValue: String) { self.rawValue = rawValue }
    /// Allows `"cfo"` where a position is expected.
    public init(stringLiteral value: String) { rawValue = value }
    /// Alphabetical order.
    public static func < (l: PositionCode, r: PositionCode) -> Bool { l.rawValue < r.rawValue }
    /// The code itself.
    public var description: String { rawValue }
    /// Decodes a bare string.
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    /// Encodes a bare string.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// Генеральный директор.
    public static let ceo: PositionCode = "ceo"
    /// Финансовый директор.
    public static let cfo: PositionCode = "cfo"
    /// Главный бухгалтер.
    public static let chiefAccountant: PositionCode = "chief_accountant"
    /// Казначей: pays through the payment registry.
    public static let treasurer: PositionCode = "treasurer"
    /// Бухгалтер.
    public static let accountant: PositionCode = "accountant"
    /// Бухгалтер по расчёту заработной платы.
    public static let payrollAccountant: PositionCode = "payroll_accountant"
    /// Бухгалтер по первичке: collects closing documents.
    public static let documentClerk: PositionCode = "document_clerk"
    /// Руководитель отдела закупок.
    public static let headOfPurchasing: PositionCode = "head_of_purchasing"
    /// Заведующий складом.
    public static let warehouseManager: PositionCode = "warehouse_manager"
    /// Менеджер по логистике / ВЭД.
    public static let logisticsManager: PositionCode = "logistics_manager"
    /// Руководитель отдела (the usual head position of a department).
    public static let headOfDepartment: PositionCode = "head_of_department"
}

/// A half-open validity range [from, to) of instants; `to == nil` means open-ended.
public struct ValidityRange: Hashable, Sendable, Codable {
    /// First instant included.
    public var from: Instant
    /// First instant no longer included, or `nil` for "until further notice".
    public var to: Instant?
    /// Creates a range.
    public init(from: Instant, to: Instant? = nil) {
        self.from = from
        self.to = to
    }
    /// Whether `instant` lies in [from, to).
    public func contains(_ instant: Instant) -> Bool { from <= instant && (to.map { instant < $0 } ?? true) }
}

/// A subdivision: a legal entity or separate unit of the group, with its own departments.
public struct Subdivision: Hashable, Sendable, Codable {
    /// Id.
    public var id: SubdivisionID
    /// Stable code (`head_office`, `warehouse`).
    public var code: String
    /// Display name.
    public var name: String
    /// The head office: where group positions (CEO, group CFO) live and escalation ends.
    public var isHeadOffice: Bool
    /// Creates a subdivision.
    public init(id: SubdivisionID, code: String, name: String, isHeadOffice: Bool = false) {
        self.id = id
        self.code = code
        self.name = name
        self.isHeadOffice = isHeadOffice
    }
}

/// A department: a node of the tree inside a subdivision, with a head position.
public struct Department: Hashable, Sendable, Codable {
    /// Id.
    public var id: DepartmentID
    /// Stable code, unique in the group (`purchasing`, `finance`), for named-department selectors.
    public var code: String
    /// Display name.
    public var name: String
    /// The subdivision it belongs to.
    public var subdivision: SubdivisionID
    /// The parent department, `nil` for a subdivision's top department.
    public var parent: DepartmentID?
    /// The position whose holder heads this department.
    public var headPosition: PositionCode
    /// Creates a department.
    public init(
        id: DepartmentID, code: String, name: String, subdivision: SubdivisionID, parent: DepartmentID?,
        headPosition: PositionCode = .headOfDepartment
    ) {
        self.id = id
        self.code = code
        self.name = name
        self.subdivision = subdivision
        self.parent = parent
        self.headPosition = headPosition
    }
}

/// An employee holding a position in a department over a time range.
public struct Assignment: Hashable, Sendable, Codable {
    /// Who.
    public var employee: EmployeeID
    /// Where.
    public var department: DepartmentID
    /// As what.
    public var position: PositionCode
    /// When.
    public var validity: ValidityRange
    /// Creates an assignment.
    public init(employee: EmployeeID, department: DepartmentID, position: PositionCode, validity: ValidityRange) {
        self.employee = employee
        self.department = department
        self.position = position
        self.validity = validity
    }
}

/// A deputy acting for an absent employee over a time range, optionally only for some invoice types.
public struct Substitution: Hashable, Sendable, Codable {
    /// The employee who is away.
    public var absent: EmployeeID
    /// The employee acting for them.
    public var deputy: EmployeeID
    /// When the absence lasts.
    public var validity: ValidityRange
    /// The invoice types the deputy may act on; `nil` means all types.
    public var invoiceTypes: Set<InvoiceTypeCode>?
    /// Creates a substitution.
    public init(
        absent: EmployeeID, deputy: EmployeeID, validity: ValidityRange, invoiceTypes: Set<InvoiceTypeCode>? = nil
    ) {
        self.absent = absent
        self.deputy = deputy
        self.validity = validity
        self.invoiceTypes = invoiceTypes
    }
}

/// The organisation as of one moment: every record, queried at `moment`.
public struct OrgSnapshot: Hashable, Sendable, Codable {
    /// The moment the snapshot answers for (assignments and substitutions are filtered by it).
    public var moment: Instant
    /// All subdivisions.
    public var subdivisions: [Subdivision]
    /// All departments.
    public var departments: [Department]
    /// All assignments, current or not.
    public var assignments: [Assignment]
    /// All substitutions, current or not.
    public var substitutions: [Substitution]

    /// Creates a snapshot.
    public init(
        moment: Instant, subdivisions: [Subdivision], departments: [Department], assignments: [Assignment],
        substitutions: [Substitution]
    ) {
        self.moment = moment
        self.subdivisions = subdivisions
        self.departments = departments
        self.assignments = assignments
        self.substitutions = substitutions
    }

    /// The department with this id.
    public func department(_ id: DepartmentID) -> Department? { departments.first { $0.id == id } }

    /// The department with this code.
    public func department(code: String) -> Department? { departments.first { $0.code == code } }

    /// The head office: the subdivision marked so, else the one where the CEO currently works
    /// (the database has no head-office flag; the CEO's subdivision is the group's centre).
    public var headOffice: Subdivision? {
        if let marked = subdivisions.first(where: { $0.isHeadOffice }) { return marked }
        let ceoDepartments = Set(
            assignments.filter { $0.position == .ceo && $0.validity.contains(moment) }.map(\.department))
        guard let department = departments.first(where: { ceoDepartments.contains($0.id) }) else { return nil }
        return subdivisions.first { $0.id == department.subdivision }
    }

    /// The top department of a subdivision (the first without a parent).
    public func topDepartment(of subdivision: SubdivisionID) -> Department? {
        departments.first { $0.subdivision == subdivision && $0.parent == nil }
    }

    /// Current holders of a position in one department, in id order.
    public func holders(of position: PositionCode, in department: DepartmentID) -> [EmployeeID] {
        Array(
            Set(
                assignments.filter {
                    $0.department == department && $0.position == position && $0.validity.contains(moment)
                }.map(\.employee)
            ).sorted())
    }

    /// Current holders of a position anywhere in a subdivision, in id order.
    public func holders(of position: PositionCode, inSubdivision subdivision: SubdivisionID) -> [EmployeeID] {
        let ids = Set(departments.filter { $0.subdivision == subdivision }.map(\.id))
        return Array(
            Set(
                assignments.filter {
                    ids.contains($0.department) && $0.position == position && $0.validity.contains(moment)
                }.map(\.employee)
            ).sorted())
    }

    /// The current heads of a department (holders of its head position).
    public func heads(of department: DepartmentID) -> [EmployeeID] {
        guard let d = self.department(department) else { return [] }
        return holders(of: d.headPosition, in: department)
    }

    /// The employee's current departments (an employee may hold several posts), in id order.
    public func departments(of employee: EmployeeID) -> [DepartmentID] {
        Array(Set(assignments.filter { $0.employee == employee && $0.validity.contains(moment) }.map(\.department)))
            .sorted()
    }

    /// The department above this one: its parent, or for a subdivision's top department the head
    /// office's top department (so escalation always ends at the group's head), or `nil` at the very top.
    public func departmentAbove(_ id: DepartmentID) -> DepartmentID? {
        guard let d = department(id) else { return nil }
        if let parent = d.parent { return parent }
        guard let office = headOffice, office.id != d.subdivision, let top = topDepartment(of: office.id) else {
            return nil
        }
        return top.id
    }

    /// Current substitutions of an absent employee, in deputy order.
    public func substitutions(for absent: EmployeeID) -> [Substitution] {
        substitutions.filter { $0.absent == absent && $0.validity.contains(moment) }.sorted { $0.deputy < $1.deputy }
    }
}
