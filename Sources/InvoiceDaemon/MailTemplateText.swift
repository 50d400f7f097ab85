/// The mustache text of every mail, compiled into the binary (no files to deploy or lose).
///
/// Each kind has, per language, a subject, a lead paragraph and the label of its link; one text and
/// one HTML layout per language put them around the card's facts. Variables: `number`,
/// `counterparty`, `amount`, `purpose`, `initiator`, `payer`, `due`, `actor`, `acting_for`,
/// `open_tasks` (digest), `overdue_count` (digest, absent when zero).
enum MailTemplateText {
    /// The three kind-specific pieces of one mail in one language.
    struct Pieces: Sendable {
        var subject: String
        var lead: String
        var action: String
    }

    static func pieces(_ kind: MailKind, _ locale: MailLocale) -> Pieces {
        switch locale {
        case .ru: return russian(kind)
        case .en: return english(kind)
        }
    }

    private static func russian(_ kind: MailKind) -> Pieces {
        switch kind {
        case .taskAssigned:
            return Pieces(
                subject: "Требуется ваше решение: счёт № {{number}} от {{counterparty}} на {{amount}}",
                lead: "Вам назначена задача по счёту № {{number}} от {{counterparty}} на сумму {{amount}}"
                    + "{{#acting_for}} (вы замещаете: {{acting_for}}){{/acting_for}}. "
                    + "Пожалуйста, примите решение{{#due}} до {{due}}{{/due}}.",
                action: "Открыть задачу")
        case .reminder:
            return Pieces(
                subject: "Напоминание: счёт № {{number}} ждёт вашего решения",
                lead: "Напоминаем: задача по счёту № {{number}} от {{counterparty}} на сумму {{amount}} "
                    + "ещё ждёт вашего решения{{#due}} (срок — {{due}}){{/due}}.",
                action: "Открыть задачу")
        case .escalation:
            return Pieces(
                subject: "Эскалация: счёт № {{number}} не рассмотрен в срок",
                lead: "Задача по счёту № {{number}} от {{counterparty}} на сумму {{amount}}"
                    + "{{#actor}} (исполнитель — {{actor}}){{/actor}} не выполнена в срок"
                    + "{{#due}} ({{due}}){{/due}} и передана вам.",
                action: "Открыть задачу")
        case .approved:
            return Pieces(
                subject: "Счёт № {{number}} согласован",
                lead: "Ваш счёт № {{number}} от {{counterparty}} на сумму {{amount}} согласован"
                    + "{{#actor}} ({{actor}}){{/actor}} и передан на оплату.",
                action: "Открыть карточку счёта")
        case .rejected:
            return Pieces(
                subject: "Счёт № {{number}} отклонён",
                lead:
                    "Ваш счёт № {{number}} от {{counterparty}} на сумму {{amount}} отклонён{{#actor}} ({{actor}}){{/actor}}.",
                action: "Открыть карточку счёта")
        case .returned:
            return Pieces(
                subject: "Счёт № {{number}} возвращён на доработку",
                lead: "Ваш счёт № {{number}} от {{counterparty}} на сумму {{amount}} возвращён на доработку"
                    + "{{#actor}} ({{actor}}){{/actor}}. Исправьте его и отправьте на согласование снова.",
                action: "Открыть карточку счёта")
        case .paymentDue:
            return Pieces(
                subject: "К оплате: счёт № {{number}} от {{counterparty}} на {{amount}}",
                lead: "Счёт № {{number}} от {{counterparty}} на сумму {{amount}} согласован и ждёт оплаты"
                    + "{{#due}} до {{due}}{{/due}}.",
                action: "Открыть задачу")
        case .paid:
            return Pieces(
                subject: "Счёт № {{number}} оплачен",
                lead: "Ваш счёт № {{number}} от {{counterparty}} на сумму {{amount}} оплачен.",
                action: "Открыть карточку счёта")
        case .documentsRequested:
            return Pieces(
                subject: "Нужны закрывающие документы по счёту № {{number}}",
                lead: "Счёт № {{number}} от {{counterparty}} на сумму {{amount}} оплачен. Получите закрывающие "
                    + "документы (УПД, акт, счёт-фактуру){{#due}} до {{due}}{{/due}}.",
                action: "Открыть задачу")
        case .documentsOverdue:
            return Pieces(
                subject: "Просрочены закрывающие документы по счёту № {{number}}",
                lead: "Срок получения закрывающих документов по счёту № {{number}} от {{counterparty}} "
                    + "на сумму {{amount}} истёк{{#due}} ({{due}}){{/due}}.",
                action: "Открыть задачу")
        case .digest:
            return Pieces(
                subject: "InvoiceFlow: у вас {{open_tasks}}",
                lead: "У вас {{open_tasks}}{{#overdue_count}}, из них просрочено: {{overdue_count}}{{/overdue_count}}.",
                action: "Открыть мои задачи")
        }
    }

    private static func english(_ kind: MailKind) -> Pieces {
        switch kind {
        case .taskAssigned:
            return Pieces(
                subject: "Your decision is needed: invoice {{number}} from {{counterparty}} for {{amount}}",
                lead: "You have a task on invoice {{number}} from {{counterparty}} for {{amount}}"
                    + "{{#acting_for}} (as a substitute for {{acting_for}}){{/acting_for}}. "
                    + "Please decide{{#due}} by {{due}}{{/due}}.",
                action: "Open the task")
        case .reminder:
            return Pieces(
                subject: "Reminder: invoice {{number}} awaits your decision",
                lead: "A reminder: your task on invoice {{number}} from {{counterparty}} for {{amount}} "
                    + "is still open{{#due}} (due {{due}}){{/due}}.",
                action: "Open the task")
        case .escalation:
            return Pieces(
                subject: "Escalation: invoice {{number}} was not handled in time",
                lead: "The task on invoice {{number}} from {{counterparty}} for {{amount}}"
                    + "{{#actor}} (assigned to {{actor}}){{/actor}} was not done in time"
                    + "{{#due}} ({{due}}){{/due}} and has been passed to you.",
                action: "Open the task")
        case .approved:
            return Pieces(
                subject: "Invoice {{number}} approved",
                lead: "Your invoice {{number}} from {{counterparty}} for {{amount}} was approved"
                    + "{{#actor}} ({{actor}}){{/actor}} and goes to payment.",
                action: "Open the invoice")
        case .rejected:
            return Pieces(
                subject: "Invoice {{number}} rejected",
                lead:
                    "Your invoice {{number}} from {{counterparty}} for {{amount}} was rejected{{#actor}} ({{actor}}){{/actor}}.",
                action: "Open the invoice")
        case .returned:
            return Pieces(
                subject: "Invoice {{number}} returned for rework",
                lead: "Your invoice {{number}} from {{counterparty}} for {{amount}} was returned for rework"
                    + "{{#actor}} ({{actor}}){{/actor}}. Please correct it and submit it again.",
                action: "Open the invoice")
        case .paymentDue:
            return Pieces(
                subject: "To pay: invoice {{number}} from {{counterparty}} for {{amount}}",
                lead: "Invoice {{number}} from {{counterparty}} for {{amount}} is approved and awaits payment"
                    + "{{#due}} by {{due}}{{/due}}.",
                action: "Open the task")
        case .paid:
            return Pieces(
                subject: "Invoice {{number}} paid",
                lead: "Your invoice {{number}} from {{counterparty}} for {{amount}} has been paid.",
                action: "Open the invoice")
        case .documentsRequested:
            return Pieces(
                subject: "Closing documents needed for invoice {{number}}",
                lead:
                    "Invoice {{number}} from {{counterparty}} for {{amount}} has been paid. Please obtain the closing "
                    + "documents (UPD, act, VAT invoice){{#due}} by {{due}}{{/due}}.",
                action: "Open the task")
        case .documentsOverdue:
            return Pieces(
                subject: "Closing documents overdue for invoice {{number}}",
                lead: "The closing documents for invoice {{number}} from {{counterparty}} for {{amount}} "
                    + "are overdue{{#due}} (due {{due}}){{/due}}.",
                action: "Open the task")
        case .digest:
            return Pieces(
                subject: "InvoiceFlow: you have {{open_tasks}}",
                lead: "You have {{open_tasks}}{{#overdue_count}}, {{overdue_count}} of them overdue{{/overdue_count}}.",
                action: "Open my tasks")
        }
    }

    /// The plain-text body around the pieces.
    static let textLayout = """
        {{% CONTENT_TYPE: TEXT}}
        {{greeting}}

        {{{lead}}}

        {{#comment}}
        {{comment_label}}: {{comment}}

        {{/comment}}
        {{#facts}}
        {{label}}: {{value}}
        {{/facts}}
        {{#items}}
        - {{{line}}}
        {{/items}}

        {{action_label}}: {{link}}

        --
        {{footer}}

        """

    /// The HTML body around the pieces; every value is escaped by mustache's default HTML content type.
    static let htmlLayout = """
        <!DOCTYPE html>
        <html lang="{{lang}}">
        <head><meta charset="utf-8"><title>{{subject}}</title></head>
        <body style="font-family: sans-serif">
        <p>{{greeting}}</p>
        <p>{{{lead}}}</p>
        {{#comment}}
        <blockquote><b>{{comment_label}}:</b> {{comment}}</blockquote>
        {{/comment}}
        {{#has_facts}}
        <table>
        {{#facts}}
        <tr><th align="left">{{label}}</th><td>{{value}}</td></tr>
        {{/facts}}
        </table>
        {{/has_facts}}
        {{#has_items}}
        <ul>
        {{#items}}
        <li>{{{line}}}</li>
        {{/items}}
        </ul>
        {{/has_items}}
        <p><a href="{{link}}">{{action_label}}</a></p>
        <p style="color: #666">{{footer}}</p>
        </body>
        </html>

        """

    /// One line of a digest.
    static func digestLine(_ locale: MailLocale) -> String {
        switch locale {
        case .ru:
            return
                "№ {{number}} — {{counterparty}}, {{amount}}{{#due}}, срок {{due}}{{/due}}{{#overdue}} (просрочено){{/overdue}}"
        case .en:
            return
                "{{number}} — {{counterparty}}, {{amount}}{{#due}}, due {{due}}{{/due}}{{#overdue}} (overdue){{/overdue}}"
        }
    }

    /// Labels of the layouts.
    static func labels(_ locale: MailLocale) -> [String: String] {
        switch locale {
        case .ru:
            return [
                "greeting": "Здравствуйте, %@!", "comment": "Комментарий", "number": "Счёт №",
                "counterparty": "Контрагент", "amount": "Сумма", "purpose": "Назначение", "initiator": "Инициатор",
                "payer": "Плательщик", "due": "Срок", "acting_for": "Вы замещаете",
                "footer": "Это автоматическое письмо InvoiceFlow, отвечать на него не нужно.",
            ]
        case .en:
            return [
                "greeting": "Hello %@,", "comment": "Comment", "number": "Invoice", "counterparty": "Counterparty",
                "amount": "Amount", "purpose": "Purpose", "initiator": "Initiator", "payer": "Paying subdivision",
                "due": "Due", "acting_for": "On behalf of",
                "footer": "This is an automatic message from InvoiceFlow; there is no need to reply.",
            ]
        }
    }

    /// «5 открытых задач» / «5 open tasks».
    static func openTasks(_ count: Int, _ locale: MailLocale) -> String {
        switch locale {
        case .ru:
            return RussianPlural(one: "открытая задача", few: "открытые задачи", many: "открытых задач").phrase(count)
        case .en:
            return EnglishPlural(one: "open task", other: "open tasks").phrase(count)
        }
    }
}
