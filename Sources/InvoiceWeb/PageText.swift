import InvoiceDaemon

/// Every sentence of the pages, in Russian (the default) and English.
enum PageText {
    enum Key: Hashable, Sendable {
        case yes, no
        case number, invoiceDate, type, receiver, receiverINN, receiverAccount, payer, amount, vat, paid, purpose,
            initiator
        case dueDate, prepayment, urgent, outsideBudget, goodsReceived, confidential
        case cardTitle, facts, attachments, noAttachments, timeline, stageLabel, holder, since, nobodyHolds
        case actingFor, viaEmail
        case confirmTitle, confirmLead, approve, remarksOrReject, comment, approveWithRemarks, reject
        case delegateTitle, delegateTo, delegateReason, delegate, commentRequired, choose
        case doneTitle, doneApproved, doneApprovedWithRemarks, doneRejected, doneDelegated
        case alreadyTitle, alreadyDecided
        case changedTitle, changedLead, openCard
        case expiredTitle, expiredLead
        case forgedTitle, forgedLead
        case formTitle, formLead
        case refusedTitle, refusedSoD, refusedRight, refusedStage
        case notApprovalTitle, notApprovalLead
        case notVisibleTitle, notVisibleLead
        case errorTitle, errorLead
    }

    static func text(_ key: Key, _ locale: MailLocale) -> String {
        let pair = pairs[key] ?? ("?", "?")
        return locale == .ru ? pair.ru : pair.en
    }

    /// The stage as people say it.
    static func stage(_ stage: String, _ locale: MailLocale) -> String {
        let names: [String: (ru: String, en: String)] = [
            "draft": ("Черновик", "Draft"), "approval": ("Согласование", "Approval"), "payment": ("Оплата", "Payment"),
            "closing_documents": ("Закрывающие документы", "Closing documents"), "closed": ("Закрыт", "Closed"),
            "rejected": ("Отклонён", "Rejected"), "withdrawn": ("Отозван", "Withdrawn"),
        ]
        guard let name = names[stage] else { return stage }
        return locale == .ru ? name.ru : name.en
    }

    /// The outcome of a task as people say it.
    static func outcome(_ outcome: String, _ locale: MailLocale) -> String {
        let names: [String: (ru: String, en: String)] = [
            "approved": ("согласовано", "approved"),
            "approved_with_remarks": ("согласовано с замечаниями", "approved with remarks"),
            "rejected": ("отклонено", "rejected"), "delegated": ("передано другому сотруднику", "delegated"),
            "cancelled": ("задача закрыта", "task closed"), "done": ("выполнено", "done"),
        ]
        guard let name = names[outcome] else { return outcome }
        return locale == .ru ? name.ru : name.en
    }

    /// The wording of an audit action: the database's, else ours for the router's own steps, else the code.
    static func action(_ code: String, label: String, _ locale: MailLocale) -> String {
        guard label == code else { return label }
        let names: [String: (ru: String, en: String)] = [
            "pin_route": ("маршрут согласования закреплён", "approval route pinned"),
            "route_step_started": ("начат шаг маршрута", "route step started"),
            "route_nobody_can_act": ("на шаге маршрута некому действовать", "nobody can act on a route step"),
            "route_escalated": ("задача эскалирована", "task escalated"),
            "escalation": ("эскалация", "escalation"), "reminder": ("напоминание", "reminder"),
            "cancel_task": ("задача закрыта", "task closed"),
        ]
        guard let name = names[code] else { return code }
        return locale == .ru ? name.ru : name.en
    }

    private static let pairs: [Key: (ru: String, en: String)] = [
        .yes: ("да", "yes"), .no: ("нет", "no"),
        .number: ("Номер счёта", "Invoice number"), .invoiceDate: ("Дата счёта", "Invoice date"),
        .type: ("Тип", "Type"), .receiver: ("Получатель", "Receiver"), .receiverINN: ("ИНН получателя", "Receiver INN"),
        .receiverAccount: ("Счёт получателя", "Receiver's bank account"),
        .payer: ("Плательщик", "Paying subdivision"), .amount: ("Сумма", "Amount"),
        .vat: ("В т. ч. НДС", "VAT included"),
        .paid: ("Оплачено", "Paid"), .purpose: ("Назначение", "Purpose"), .initiator: ("Инициатор", "Initiator"),
        .dueDate: ("Оплатить до", "Pay by"), .prepayment: ("Предоплата", "Prepayment"), .urgent: ("Срочно", "Urgent"),
        .outsideBudget: ("Вне бюджета", "Outside the budget"), .goodsReceived: ("Товар получен", "Goods received"),
        .confidential: ("Конфиденциально", "Confidential"),
        .cardTitle: ("Счёт", "Invoice"), .facts: ("Сведения", "Facts"), .attachments: ("Вложения", "Attachments"),
        .noAttachments: ("Вложений нет.", "No attachments."), .timeline: ("История", "History"),
        .stageLabel: ("Этап", "Stage"), .holder: ("Ждёт действия", "Waiting for"),
        .since: ("на этапе", "in this stage for"),
        .nobodyHolds: ("никого", "nobody"), .actingFor: ("за", "for"),
        .viaEmail: ("по ссылке из письма", "via the email link"),
        .confirmTitle: ("Согласование счёта", "Approve the invoice"),
        .confirmLead: (
            "Проверьте счёт и выберите решение. Ничего не изменится, пока вы не нажмёте кнопку.",
            "Check the invoice and choose. Nothing changes until you press a button."
        ),
        .approve: ("Согласовать", "Approve"),
        .remarksOrReject: ("С замечаниями или отклонить", "With remarks, or reject"),
        .comment: ("Комментарий", "Comment"),
        .approveWithRemarks: ("Согласовать с замечаниями", "Approve with remarks"),
        .reject: ("Отклонить", "Reject"), .delegateTitle: ("Передать коллеге", "Delegate to a colleague"),
        .delegateTo: ("Кому", "To"), .delegateReason: ("Почему", "Why"), .delegate: ("Передать", "Delegate"),
        .choose: ("— выберите —", "— choose —"),
        .commentRequired: (
            "Нужен комментарий: он обязателен, чтобы отклонить, согласовать с замечаниями или передать задачу.",
            "A comment is required to reject, to approve with remarks or to delegate."
        ),
        .doneTitle: ("Готово", "Done"), .doneApproved: ("Вы согласовали счёт.", "You approved the invoice."),
        .doneApprovedWithRemarks: ("Вы согласовали счёт с замечаниями.", "You approved the invoice with remarks."),
        .doneRejected: (
            "Вы отклонили счёт; он возвращён инициатору.", "You rejected the invoice; it went back to its initiator."
        ),
        .doneDelegated: ("Задача передана.", "The task was delegated."),
        .alreadyTitle: ("Решение уже принято", "Already decided"),
        .alreadyDecided: ("По этой задаче уже принято решение", "This task was already decided"),
        .changedTitle: ("Счёт изменился", "The invoice changed"),
        .changedLead: (
            "После отправки письма счёт изменили, поэтому эта ссылка больше не действует. Если понадобится ваше решение, придёт новое письмо.",
            "The invoice was changed after this mail was sent, so this link no longer works. If your decision is needed, a new mail will come."
        ),
        .openCard: ("Открыть актуальную карточку счёта", "Open the current invoice card"),
        .expiredTitle: ("Ссылка устарела", "The link has expired"),
        .expiredLead: (
            "Срок действия ссылки истёк. Решение можно принять в системе или дождаться напоминания с новой ссылкой.",
            "This link is past its expiry. Decide in the system, or wait for a reminder with a new link."
        ),
        .forgedTitle: ("Ссылка недействительна", "Invalid link"),
        .forgedLead: (
            "Ссылка повреждена или не принадлежит этой системе. Откройте её из письма целиком.",
            "The link is damaged or was not made by this system. Open it from the mail in full."
        ),
        .formTitle: ("Форма устарела", "The form is not valid"),
        .formLead: (
            "Отправка не принята: откройте ссылку из письма ещё раз и повторите выбор. Ничего не изменилось.",
            "The submission was refused: open the link from the mail again and choose once more. Nothing changed."
        ),
        .refusedTitle: ("Действие невозможно", "Not possible"),
        .refusedSoD: (
            "Разделение обязанностей: инициатор не может согласовать свой счёт, а задачу нельзя передать инициатору.",
            "Separation of duties: the initiator may not approve their own invoice, and a task may not go to the initiator."
        ),
        .refusedRight: (
            "У вас больше нет права решать эту задачу (например, замещение закончилось).",
            "You may no longer decide this task (for example, a substitution ended)."
        ),
        .refusedStage: ("Счёт уже не на согласовании.", "The invoice is no longer in approval."),
        .notApprovalTitle: ("Задача без согласования", "Not an approval"),
        .notApprovalLead: (
            "Эта задача (оплата или сбор документов) выполняется в системе, а не по ссылке. Ниже карточка счёта.",
            "This task (a payment or collecting documents) is done in the system, not from the link. The card is below."
        ),
        .notVisibleTitle: ("Счёт недоступен", "Invoice not available"),
        .notVisibleLead: ("Этот счёт вам сейчас не виден.", "You cannot see this invoice now."),
        .errorTitle: ("Ошибка", "Error"),
        .errorLead: (
            "Не получилось выполнить запрос. Попробуйте позже.", "The request could not be completed. Try again later."
        ),
    ]
}
