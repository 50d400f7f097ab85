// The six default invoice types of SCENARIOS.md as route data. routes/defaults.json is the same
// data as a file (a test proves they are equal); the interpretation of each rule is in docs/routes.md.

extension RouteVersion {
    /// One business day of the default calendar (09:00–18:00).
    static let oneDay = StepDeadline.businessHours(9)
    /// Two business days: the CEO's SLA.
    static let twoDays = StepDeadline.businessHours(18)

    private static func approve(
        _ id: String, _ title: String, _ who: [StepParticipant], when condition: RouteCondition = .always,
        mode: ApprovalMode = .allInParallel, deadline: StepDeadline = oneDay
    ) -> RouteStep {
        RouteStep(
            id: id, kind: .approve, title: title, participants: who, mode: mode, condition: condition,
            deadline: deadline)
    }

    private static func ceo(when condition: RouteCondition) -> RouteStep {
        approve(
            "ceo", "Согласование генерального директора", [.init(.groupPosition(.ceo))], when: condition,
            deadline: twoDays)
    }

    private static let cfo = approve("cfo", "Согласование финансового директора", [.init(.groupPosition(.cfo))])

    private static func payment(
        _ payer: ParticipantSelector, immediatelyWhen: RouteCondition = .flag(.urgent), netting: Bool = false
    )
        -> RouteStep
    {
        RouteStep(
            id: "payment", kind: .pay, title: "Оплата", participants: [.init(payer)], mode: .anyOne,
            deadline: .endOfBusinessDay,
            payment: PaymentTiming(onPaymentDays: true, immediatelyWhen: immediatelyWhen, nettingAllowed: netting))
    }

    private static func closing(
        _ who: [StepParticipant], mode: ApprovalMode = .anyOne, documents: [String], days: Int,
        after: DueAnchor = .payment
    ) -> RouteStep {
        RouteStep(
            id: "closing_documents", kind: .collectClosingDocuments, title: "Закрывающие документы", participants: who,
            mode: mode, deadline: .endOfBusinessDay,
            closingDocuments: ClosingDocumentsRule(
                documents: documents, due: ClosingDocumentsDue(businessDays: days, after: after)))
    }

    /// 1. Оплата поставщику товара.
    public static let supplierGoods = RouteVersion(
        type: .supplierGoods, version: 1, name: "Оплата поставщику товара",
        steps: [
            approve(
                "purchasing", "Согласование закупок",
                [
                    .init(.groupPosition(.headOfPurchasing)),
                    .init(.positionInPayingSubdivision(.warehouseManager), when: .flag(.goodsReceived)),
                ]),
            cfo,
            ceo(
                when: .any([
                    .amountAbove(.rub(1_500_000)),
                    .all([
                        .amountAbove(.rub(300_000)),
                        .any([.prepaymentAbove(basisPoints: 5000), .flag(.newCounterparty)]),
                    ]),
                ])),
            payment(.positionInPayingSubdivision(.treasurer)),
            closing(
                [.init(.positionInPayingSubdivision(.documentClerk))], documents: ["УПД", "ТОРГ-12 + счёт-фактура"],
                days: 5),
        ])

    /// 2. Зарплата и выплаты персоналу.
    public static let payroll = RouteVersion(
        type: .payroll, version: 1, name: "Зарплата и выплаты персоналу", initiatorPositions: [.payrollAccountant],
        visibleOnlyTo: [.payrollAccountant, .chiefAccountant, .ceo],
        steps: [
            approve(
                "chief_accountant", "Согласование главного бухгалтера",
                [.init(.positionInPayingSubdivision(.chiefAccountant))]),
            ceo(when: .always),
            payment(.positionInPayingSubdivision(.treasurer)),
            closing(
                [.init(.positionInPayingSubdivision(.payrollAccountant))], documents: ["Реестр платежей банка"],
                days: 1),
        ])

    /// 3. Прочие расходы и услуги.
    public static let operatingExpenses = RouteVersion(
        type: .operatingExpenses, version: 1, name: "Прочие расходы и услуги",
        steps: [
            approve("department_head", "Согласование руководителя ЦФО", [.init(.headOfInitiatorDepartment)]),
            approve(
                "cfo", "Согласование финансового директора", [.init(.groupPosition(.cfo))],
                when: .any([.amountAbove(.rub(50_000)), .flag(.outsideBudget)])),
            ceo(when: .any([.amountAbove(.rub(300_000)), .flag(.outsideBudget)])),
            payment(.positionInPayingSubdivision(.accountant)),
            closing(
                [.init(.initiator), .init(.positionInPayingSubdivision(.documentClerk))], mode: .sequential,
                documents: ["Акт", "УПД"], days: 5),
        ])

    /// 4. Внутригрупповые расчёты.
    public static let intercompany = RouteVersion(
        type: .intercompany, version: 1, name: "Внутригрупповые расчёты",
        steps: [
            approve("payer_head", "Согласование руководителя (плательщик)", [.init(.headOfDepartment(.payer))]),
            approve(
                "payee_head", "Подтверждение получения (получатель)", [.init(.headOfDepartment(.payee))]),
            approve("group_cfo", "Согласование финансового директора группы", [.init(.groupPosition(.cfo))]),
            ceo(when: .amountAbove(.rub(1_000_000))),
            payment(.positionInPayingSubdivision(.treasurer), netting: true),
            closing(
                [
                    .init(.positionInPayingSubdivision(.documentClerk)),
                    .init(.positionInReceivingSubdivision(.documentClerk)),
                ], mode: .allInParallel, documents: ["УПД или акт выставляющего подразделения"], days: 5),
        ])

    /// 5. Логистика, ВЭД, таможня.
    public static let logisticsCustoms = RouteVersion(
        type: .logisticsCustoms, version: 1, name: "Логистика, ВЭД, таможня",
        steps: [
            approve(
                "logistics", "Согласование логистики", [.init(.positionInPayingSubdivision(.logisticsManager))],
                when: .not(.flag(.customs))),
            approve(
                "cfo", "Согласование финансового директора", [.init(.groupPosition(.cfo))],
                when: .not(.flag(.customs))),
            approve(
                "cfo_customs", "Таможенный платёж: согласование финансового директора в тот же день",
                [.init(.groupPosition(.cfo))], when: .flag(.customs), deadline: .endOfBusinessDay),
            ceo(when: .all([.amountAbove(.rub(100_000)), .not(.flag(.customs))])),
            payment(
                .positionInPayingSubdivision(.treasurer), immediatelyWhen: .any([.flag(.urgent), .flag(.customs)])),
            closing(
                [.init(.positionInPayingSubdivision(.logisticsManager))],
                documents: ["Таможенная декларация", "CMR", "Акт или УПД перевозчика"], days: 5),
        ])

    /// 6. Подотчёт, командировки.
    public static let employeeAdvance = RouteVersion(
        type: .employeeAdvance, version: 1, name: "Подотчёт, командировки",
        steps: [
            approve("department_head", "Согласование руководителя сотрудника", [.init(.headOfBeneficiaryDepartment)]),
            approve(
                "accountant", "Проверка бухгалтера", [.init(.positionInPayingSubdivision(.accountant))], mode: .anyOne),
            approve(
                "cfo", "Согласование финансового директора", [.init(.groupPosition(.cfo))],
                when: .amountAbove(.rub(30_000))),
            ceo(when: .amountAbove(.rub(100_000))),
            payment(.positionInPayingSubdivision(.accountant)),
            closing(
                [.init(.beneficiary)], documents: ["Авансовый отчёт с чеками"], days: 3, after: .tripEnd),
        ])

    /// The six defaults, in the numbering of SCENARIOS.md.
    public static let defaults: [RouteVersion] = [
        supplierGoods, payroll, operatingExpenses, intercompany, logisticsCustoms, employeeAdvance,
    ]
}

extension RouteFile {
    /// The content of routes/defaults.json.
    public static let defaults = RouteFile(routes: RouteVersion.defaults)
}
