/// One invoice of the demo and what the people of ``DemoCompany`` do with it, in order. The script
/// names steps and decisions, never who acts: the router decides who must act (the step's holder, their
/// deputy, or the head it escalated to), and the demo then acts as exactly that person.
public struct DemoStory: Sendable {
    /// What a person does next.
    public enum Move: Sendable {
        /// Everyone asked at this approval step approves (an any-one step: the first asked).
        case approve(step: String, comment: String? = nil)
        /// The first person asked at this step rejects with a comment.
        case reject(step: String, comment: String)
        /// The initiator returns the rejected invoice to draft, attaches the missing file and resubmits.
        case rework(comment: String, attachment: String)
        /// The holder of the pay task records the payment of the whole amount.
        case pay(reference: String)
        /// The first collector records a closing document of this kind (`upd`, `act`, `cmr`, ...).
        case document(kind: String, number: String)
        /// The last collector closes the invoice.
        case close
    }

    /// Short stable key, used by tests and in the output.
    public var key: String
    /// What this invoice shows, one line.
    public var shows: String
    /// Invoice type code.
    public var type: String
    /// Person key of the initiator.
    public var initiator: String
    /// Code of the paying subdivision.
    public var paying: String
    /// Code of the receiving subdivision (intercompany only).
    public var receiving: String? = nil
    /// Key of the counterparty (not for intercompany).
    public var counterparty: String? = nil
    /// Amount in roubles.
    public var roubles: Int64
    /// The supplier's invoice number.
    public var number: String
    /// What it pays for.
    public var purpose: String
    /// Flags of the invoice.
    public var urgent = false
    /// Outside the budget.
    public var outsideBudget = false
    /// Goods already received (supplier goods: the warehouse manager approves too).
    public var goodsReceived = false
    /// Prepayment share in percent, if a prepayment.
    public var prepaymentPercent: Int? = nil
    /// Whether the initiator submits it (false leaves a draft).
    public var submitted = true
    /// What happens after submission.
    public var moves: [Move] = []
    /// The stage the invoice ends in.
    public var finalStage: String
}

extension DemoStory {
    /// The story whose open CFO task the demo lets run late: the scheduler then escalates it.
    public static let lateStory = "waiting_cfo"

    /// The scenario: all six types from submission to closed (with a substitution, an escalation over a
    /// vacant post, an intercompany invoice approved on both sides, a rejection and resubmission), and
    /// four more left at the other stages so that people have something to look at with psql.
    public static let scenario: [DemoStory] = [
        DemoStory(
            key: "supplier_goods",
            shows: "substitution: Зайцева approves for Волков; the warehouse manager in parallel",
            type: "supplier_goods", initiator: "andreeva", paying: "warehouse", counterparty: "surgical",
            roubles: 1_840_000, number: "ХС-2211", purpose: "Хирургические столы ОТ-200, 4 шт. (товар получен)",
            goodsReceived: true,
            moves: [
                .approve(step: "purchasing"), .approve(step: "cfo"), .approve(step: "ceo", comment: nil),
                .pay(reference: "ПП-311"), .document(kind: "upd", number: "УПД-5521"), .close,
            ], finalStage: "closed"),
        DemoStory(
            key: "payroll", shows: "payroll: chief accountant, then the CEO; visible only to payroll roles",
            type: "payroll", initiator: "vasilyeva", paying: "head_office", counterparty: "bank",
            roubles: 4_350_000, number: "ЗП-11", purpose: "Заработная плата за ноябрь",
            moves: [
                .approve(step: "chief_accountant"), .approve(step: "ceo"), .pay(reference: "ПП-312"),
                .document(kind: "bank_register", number: "Реестр 11/2026"), .close,
            ], finalStage: "closed"),
        DemoStory(
            key: "rework", shows: "rejection and resubmission: only the CFO who rejected is asked again",
            type: "operating_expenses", initiator: "titov", paying: "head_office", counterparty: "cleaning",
            roubles: 126_000, number: "ЧД-0457", purpose: "Уборка офиса, IV квартал",
            moves: [
                .approve(step: "department_head"),
                .reject(step: "cfo", comment: "Нет подписанного договора на IV квартал — приложите его"),
                .rework(comment: "Приложен подписанный договор", attachment: "Договор ЧД-2026-14.pdf"),
                .approve(step: "cfo"), .pay(reference: "ПП-313"), .document(kind: "act", number: "Акт 457"), .close,
            ], finalStage: "closed"),
        DemoStory(
            key: "intercompany", shows: "intercompany: the warehouse pays the service centre; both sides approve",
            type: "intercompany", initiator: "fomin", paying: "warehouse", receiving: "service",
            roubles: 1_260_000, number: "СЦ-118", purpose: "Ремонт и ТО погрузчиков склада",
            moves: [
                .approve(step: "payer_head"), .approve(step: "payee_head", comment: "Работы выполнены, акт подписан"),
                .approve(step: "group_cfo"), .approve(step: "ceo"), .pay(reference: "ПП-314"),
                .document(kind: "act", number: "Акт СЦ-118"), .close,
            ], finalStage: "closed"),
        DemoStory(
            key: "logistics", shows: "logistics: logistics manager, CFO, CEO above 100 000",
            type: "logistics_customs", initiator: "belov", paying: "head_office", counterparty: "carrier",
            roubles: 184_000, number: "ТЛ-7730", purpose: "Доставка оборудования Санкт-Петербург — Москва",
            moves: [
                .approve(step: "logistics"), .approve(step: "cfo"), .approve(step: "ceo"), .pay(reference: "ПП-315"),
                .document(kind: "cmr", number: "CMR 77-104"), .close,
            ], finalStage: "closed"),
        DemoStory(
            key: "advance", shows: "advance: one of two accountants checks, the other one pays",
            type: "employee_advance", initiator: "smirnova", paying: "head_office", counterparty: "travel",
            roubles: 46_500, number: "АО-2026-31", purpose: "Командировка во Владивосток: таможенное оформление",
            moves: [
                .approve(step: "department_head"), .approve(step: "accountant"), .approve(step: "cfo"),
                .pay(reference: "ПП-316"), .document(kind: "expense_report", number: "АО-31"), .close,
            ], finalStage: "closed"),
        DemoStory(
            key: "escalation",
            shows: "escalation: the service department's head post is vacant, its head's head approves",
            type: "operating_expenses", initiator: "krylov", paying: "service", counterparty: "tools",
            roubles: 38_400, number: "ИП-3391", purpose: "Инструменты для ремонта рентген-аппаратов",
            moves: [
                .approve(step: "department_head"), .pay(reference: "ПП-41"), .document(kind: "upd", number: "УПД-3391"),
                .close,
            ], finalStage: "closed"),
        DemoStory(
            key: "waiting_cfo", shows: "waits for the CFO; overdue, the scheduler escalates it to the CEO",
            type: "supplier_goods",
            initiator: "orlov", paying: "head_office", counterparty: "biolab", roubles: 640_000, number: "БЛ-902",
            purpose: "Реагенты для анализаторов, предоплата", prepaymentPercent: 60,
            moves: [.approve(step: "purchasing")], finalStage: "approval"),
        DemoStory(
            key: "waiting_payment", shows: "approved, waits for the treasurer's payment day", type: "logistics_customs",
            initiator: "belov", paying: "head_office", counterparty: "broker", roubles: 92_000, number: "ТБ-5120",
            purpose: "Услуги таможенного брокера",
            moves: [.approve(step: "logistics"), .approve(step: "cfo")], finalStage: "payment"),
        DemoStory(
            key: "waiting_documents", shows: "paid, waits for the УПД", type: "supplier_goods", initiator: "orlov",
            paying: "head_office", counterparty: "medsnab", roubles: 268_000, number: "МС-1187",
            purpose: "Расходные материалы: перчатки, маски",
            moves: [.approve(step: "purchasing"), .approve(step: "cfo"), .pay(reference: "ПП-317")],
            finalStage: "closing_documents"),
        DemoStory(
            key: "draft", shows: "a draft not yet submitted", type: "operating_expenses", initiator: "kozlov",
            paying: "retail", counterparty: "stationery", roubles: 14_300, number: "ОС-77",
            purpose: "Канцтовары для магазина", submitted: false, finalStage: "draft"),
    ]
}
