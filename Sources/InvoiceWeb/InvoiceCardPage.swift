import Foundation
import InvoiceDaemon

/// The markup of the invoice card: facts, current stage and holder with the time in stage, attachments,
/// and the whole timeline. Every value is escaped.
enum InvoiceCardMarkup {
    /// Times are shown in Moscow time with the offset written out, as in the mails.
    static let zone = TimeZone(identifier: "Europe/Moscow") ?? .gmt

    /// The card; `between` (the decision forms) goes after the facts, so the approver reads what they
    /// decide on first and the history last.
    static func render(_ card: InvoiceCard, locale: MailLocale, between: String = "", now: Date = Date()) -> String {
        func t(_ key: PageText.Key) -> String { HTML.escape(PageText.text(key, locale)) }
        var html = "<section class=\"box\" aria-labelledby=\"card\"><h2 id=\"card\">\(t(.cardTitle)) "
        html += "№ \(HTML.escape(card.number))</h2>"
        html += "<p><strong>\(t(.stageLabel)):</strong> \(HTML.escape(PageText.stage(card.stage, locale)))"
        html +=
            " <span class=\"muted\">(\(t(.since)) \(HTML.escape(duration(now.timeIntervalSince(card.stageSince), locale))))</span><br>"
        html +=
            "<strong>\(t(.holder)):</strong> \(HTML.escape(card.waitingFor ?? PageText.text(.nobodyHolds, locale)))</p>"
        html += "<dl>"
        for fact in card.facts {
            html += "<dt>\(t(fact.label))</dt><dd>\(HTML.escape(fact.value))</dd>"
        }
        html += "</dl></section>" + between

        html += "<section class=\"box\"><h2>\(t(.attachments))</h2>"
        if card.attachments.isEmpty {
            html += "<p class=\"muted\">\(t(.noAttachments))</p>"
        } else {
            html += "<ul>"
            for file in card.attachments {
                html += "<li>\(HTML.escape(file.fileName)) <span class=\"muted\">(\(HTML.escape(file.mediaType)), "
                html += "\(HTML.escape(size(file.sizeBytes, locale))); \(HTML.escape(file.uploadedBy)), "
                html += "\(HTML.escape(MailFormat.moment(file.uploadedAt, in: zone, locale: locale))))</span></li>"
            }
            html += "</ul>"
        }
        html += "</section>"

        html += "<section class=\"box\"><h2>\(t(.timeline))</h2><ol>"
        for event in card.timeline {
            html +=
                "<li><span class=\"muted\">\(HTML.escape(MailFormat.moment(event.at, in: zone, locale: locale)))</span><br>"
            html += "<strong>\(HTML.escape(event.actor))</strong>"
            if let actingFor = event.actingFor { html += " (\(t(.actingFor)) \(HTML.escape(actingFor)))" }
            html += " — \(HTML.escape(PageText.action(event.action, label: event.label, locale)))"
            if event.channel == "email_link" { html += " <span class=\"muted\">(\(t(.viaEmail)))</span>" }
            // The router's own notes (which rule picked whom, by employee id) are for administrators.
            if let comment = event.comment, !comment.isEmpty, !event.automatic {
                html += "<br>«\(HTML.escape(comment))»"
            }
            html += "</li>"
        }
        html += "</ol></section>"
        return html
    }

    /// "3 д 4 ч" / "3 d 4 h"; minutes under an hour.
    static func duration(_ seconds: TimeInterval, _ locale: MailLocale) -> String {
        let minutes = max(0, Int(seconds / 60))
        let (days, hours, rest) = (minutes / 1440, minutes % 1440 / 60, minutes % 60)
        let (d, h, m) = locale == .ru ? ("д", "ч", "мин") : ("d", "h", "min")
        if days > 0 { return "\(days) \(d) \(hours) \(h)" }
        if hours > 0 { return "\(hours) \(h) \(rest) \(m)" }
        return "\(rest) \(m)"
    }

    static func size(_ bytes: Int64, _ locale: MailLocale) -> String {
        let (b, kb, mb) = locale == .ru ? ("Б", "КБ", "МБ") : ("B", "KB", "MB")
        if bytes < 1024 { return "\(bytes) \(b)" }
        if bytes < 1024 * 1024 { return "\(bytes / 1024) \(kb)" }
        return String(format: "%.1f %@", Double(bytes) / 1_048_576, mb)
    }
}

/// The forms of the confirmation page. Each carries the page's nonce and form token; none needs a script.
enum DecisionFormMarkup {
    static func render(
        locale: MailLocale, nonce: String, formToken: String, colleagues: [Colleague]
    ) -> String {
        func t(_ key: PageText.Key) -> String { HTML.escape(PageText.text(key, locale)) }
        // No action attribute: the form posts back to the page's own URL, the link itself.
        let hidden =
            "<input type=\"hidden\" name=\"nonce\" value=\"\(HTML.escape(nonce))\">"
            + "<input type=\"hidden\" name=\"form\" value=\"\(HTML.escape(formToken))\">"
        var html = "<section class=\"box notice\"><p>\(t(.confirmLead))</p>"
        html += "<form method=\"post\">\(hidden)<input type=\"hidden\" name=\"action\" value=\"approve\">"
        html += "<button type=\"submit\">\(t(.approve))</button></form></section>"

        html += "<section class=\"box\"><h2>\(t(.remarksOrReject))</h2><form method=\"post\">\(hidden)"
        html += "<label for=\"comment\">\(t(.comment))</label>"
        html += "<textarea id=\"comment\" name=\"comment\" required maxlength=\"2000\"></textarea>"
        html += "<button type=\"submit\" name=\"action\" value=\"approve_with_remarks\" class=\"neutral\">"
        html += "\(t(.approveWithRemarks))</button>"
        html += "<button type=\"submit\" name=\"action\" value=\"reject\" class=\"reject\">\(t(.reject))</button>"
        html += "</form></section>"

        if !colleagues.isEmpty {
            html += "<section class=\"box\"><h2>\(t(.delegateTitle))</h2><form method=\"post\">\(hidden)"
            html += "<input type=\"hidden\" name=\"action\" value=\"delegate\">"
            html +=
                "<label for=\"delegate_to\">\(t(.delegateTo))</label><select id=\"delegate_to\" name=\"delegate_to\" required>"
            // Nothing preselected: a hasty press must not hand the task to whoever sorts first.
            html += "<option value=\"\">\(t(.choose))</option>"
            for colleague in colleagues {
                html += "<option value=\"\(colleague.id)\">\(HTML.escape(colleague.name))</option>"
            }
            html += "</select><label for=\"reason\">\(t(.delegateReason))</label>"
            html += "<textarea id=\"reason\" name=\"comment\" required maxlength=\"2000\"></textarea>"
            html += "<button type=\"submit\" class=\"neutral\">\(t(.delegate))</button></form></section>"
        }
        return html
    }
}
