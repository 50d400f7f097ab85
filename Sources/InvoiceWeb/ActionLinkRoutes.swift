import Foundation
import HTTPTypes
import Hummingbird
import InvoiceDaemon
import Logging
import PostgresClient

/// The pages behind the links in task mails.
///
/// - `GET|HEAD /a/{token}`: the confirmation page (the card and the decision forms). Changes nothing, so
///   mail scanners that open every link do no harm.
/// - `POST /a/{token}`: acts, only with the form token of a page rendered for this link; the decision,
///   the link's single use and the audit row (channel email_link) are one transaction in the database.
/// - `GET|HEAD /a/{token}/card`: the current card, read-only (also for a link whose invoice changed).
struct ActionLinkRoutes: WebRoutes {
    var site: WebSite

    /// Bodies larger than this are refused before parsing: the forms send a comment of at most 2000 characters.
    static let maximumBody = 16 * 1024

    func register(on router: Router<WebContext>) {
        let site = self.site
        router.get("a/:token") { request, context in
            await Self.page(request, context, site: site).response
        }
        router.post("a/:token") { request, context in
            await Self.act(request, context, site: site).response
        }
        router.get("a/:token/card") { request, context in
            await Self.cardOnly(request, context, site: site).response
        }
    }

    /// Verifies the link, or the page saying why it does not work.
    static func verify(_ context: WebContext, site: WebSite, locale: MailLocale) -> Result<
        (String, ActionToken), Failure
    > {
        let text = context.parameters.get("token") ?? ""
        do throws(ActionToken.Refusal) {
            return .success((text, try ActionToken.verify(text, with: site.keyring)))
        } catch {
            switch error {
            case .forged: return .failure(Failure(forged(locale)))
            case .expired:
                return .failure(
                    Failure(
                        .message(
                            .gone, locale, title: .expiredTitle, lead: PageText.text(.expiredLead, locale), tone: "warn"
                        )))
            }
        }
    }

    struct Failure: Error {
        var page: WebPage
        init(_ page: WebPage) { self.page = page }
    }

    static func cardLink(_ text: String, _ locale: MailLocale) -> String { "/a/\(text)/card?lang=\(locale.rawValue)" }

    /// What a task's state says before any form is shown: nil when the form may be shown.
    static func stateNotice(
        _ state: TaskLinkState, text: String, locale: MailLocale, status decided: HTTPResponse.Status
    ) -> WebPage? {
        if state.stale {
            return .message(
                .conflict, locale, title: .changedTitle, lead: PageText.text(.changedLead, locale), tone: "warn",
                link: (cardLink(text, locale), PageText.text(.openCard, locale)))
        }
        if let outcome = state.outcome {
            var lead = PageText.text(.alreadyDecided, locale) + ": " + PageText.outcome(outcome, locale)
            if let by = state.decidedBy { lead += locale == .ru ? ", \(by)" : " by \(by)" }
            if let forWhom = state.decidedFor { lead += " (\(PageText.text(.actingFor, locale)) \(forWhom))" }
            if let at = state.decidedAt {
                lead += locale == .ru ? ", " : " at "
                lead += MailFormat.moment(at, in: InvoiceCardMarkup.zone, locale: locale)
            }
            return .message(
                decided, locale, title: .alreadyTitle, lead: lead + ".", tone: "notice",
                link: (cardLink(text, locale), PageText.text(.openCard, locale)))
        }
        return nil
    }

    static func page(_ request: Request, _ context: WebContext, site: WebSite) async -> WebPage {
        let locale = MailLocale.forRequest(request)
        let text: String
        let token: ActionToken
        switch verify(context, site: site, locale: locale) {
        case .failure(let failure): return failure.page
        case .success(let verified): (text, token) = verified
        }
        do {
            guard let state = try await site.store.state(task: token.taskID) else { return forged(locale) }
            if let notice = stateNotice(state, text: text, locale: locale, status: .ok) { return notice }
            guard let card = try await site.store.card(invoice: state.invoiceID, as: token.recipientID, locale: locale)
            else { return notVisible(locale) }
            guard state.kind == "approve" else {
                return .message(
                    .ok, locale, title: .notApprovalTitle, lead: PageText.text(.notApprovalLead, locale),
                    tone: "notice", extra: InvoiceCardMarkup.render(card, locale: locale))
            }
            let colleagues = try await site.store.colleagues(task: token.taskID, as: token.recipientID)
            let nonce = ActionToken.newNonce()
            let formToken = ActionToken.formToken(for: text, nonce: nonce, with: site.keyring) ?? ""
            let forms = DecisionFormMarkup.render(
                locale: locale, nonce: nonce, formToken: formToken, colleagues: colleagues)
            return WebPage(
                status: .ok, locale: locale,
                title: PageText.text(.confirmTitle, locale) + " № \(card.number), \(card.amount)",
                body: InvoiceCardMarkup.render(card, locale: locale, between: forms))
        } catch {
            return failed(error, context, locale)
        }
    }

    static func cardOnly(_ request: Request, _ context: WebContext, site: WebSite) async -> WebPage {
        let locale = MailLocale.forRequest(request)
        let token: ActionToken
        switch verify(context, site: site, locale: locale) {
        case .failure(let failure): return failure.page
        case .success(let verified): token = verified.1
        }
        do {
            guard let state = try await site.store.state(task: token.taskID) else { return forged(locale) }
            guard let card = try await site.store.card(invoice: state.invoiceID, as: token.recipientID, locale: locale)
            else { return notVisible(locale) }
            return WebPage(
                status: .ok, locale: locale, title: PageText.text(.cardTitle, locale) + " № " + card.number,
                body: InvoiceCardMarkup.render(card, locale: locale))
        } catch {
            return failed(error, context, locale)
        }
    }

    static func act(_ request: Request, _ context: WebContext, site: WebSite) async -> WebPage {
        let locale = MailLocale.forRequest(request)
        let text: String
        let token: ActionToken
        switch verify(context, site: site, locale: locale) {
        case .failure(let failure): return failure.page
        case .success(let verified): (text, token) = verified
        }
        var request = request
        guard let body = try? await request.collectBody(upTo: maximumBody) else {
            return .message(
                .contentTooLarge, locale, title: .formTitle, lead: PageText.text(.formLead, locale), tone: "bad")
        }
        let fields = FormBody.parse(String(buffer: body))
        guard let nonce = fields["nonce"], let form = fields["form"], nonce.count >= 16,
            ActionToken.verifyFormToken(form, for: text, nonce: nonce, with: site.keyring)
        else {
            context.logger.notice(
                "action link POST refused: missing or wrong form token", metadata: ["task": "\(token.taskID)"])
            return .message(
                .forbidden, locale, title: .formTitle, lead: PageText.text(.formLead, locale), tone: "bad",
                link: ("/a/\(text)?lang=\(locale.rawValue)", PageText.text(.confirmTitle, locale)))
        }
        let comment = fields["comment"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let delegateTo = fields["delegate_to"].flatMap { Int64($0) }
        let decision: ActionLinkStore.Decision
        switch fields["action"] {
        case "approve": decision = .approve
        case "approve_with_remarks" where !comment.isEmpty: decision = .approveWithRemarks(comment: comment)
        case "reject" where !comment.isEmpty: decision = .reject(comment: comment)
        case "delegate" where !comment.isEmpty && delegateTo != nil:
            decision = .delegate(to: delegateTo!, comment: comment)
        default:
            return .message(
                .unprocessableContent, locale, title: .refusedTitle, lead: PageText.text(.commentRequired, locale),
                tone: "warn", link: ("/a/\(text)?lang=\(locale.rawValue)", PageText.text(.confirmTitle, locale)))
        }
        guard let tokenID = ActionToken.id(of: text, with: site.keyring) else { return forged(locale) }
        do {
            try await site.store.act(tokenID: tokenID, token: token, decision: decision)
        } catch let error as PostgresError {
            return await refused(error, text: text, token: token, context: context, site: site, locale: locale)
        } catch {
            return failed(error, context, locale)
        }
        context.logger.info(
            "task decided from an email link", metadata: ["task": "\(token.taskID)", "action": "\(decision.action)"])
        let lead: PageText.Key =
            switch decision {
            case .approve: .doneApproved
            case .approveWithRemarks: .doneApprovedWithRemarks
            case .reject: .doneRejected
            case .delegate: .doneDelegated
            }
        return .message(
            .ok, locale, title: .doneTitle, lead: PageText.text(lead, locale), tone: "ok",
            link: (cardLink(text, locale), PageText.text(.openCard, locale)))
    }

    /// The page for a decision the database refused: a replay or a race (already decided), a changed
    /// invoice, separation of duties, a lost right, a wrong stage.
    static func refused(
        _ error: PostgresError, text: String, token: ActionToken, context: WebContext, site: WebSite,
        locale: MailLocale
    ) async -> WebPage {
        context.logger.notice(
            "action link refused by the database",
            metadata: ["task": "\(token.taskID)", "sqlstate": "\(error.code.rawValue)"])
        func page(_ status: HTTPResponse.Status, _ lead: PageText.Key) -> WebPage {
            .message(
                status, locale, title: .refusedTitle, lead: PageText.text(lead, locale), tone: "bad",
                link: (cardLink(text, locale), PageText.text(.openCard, locale)))
        }
        switch error.code.rawValue {
        case "IF006":
            if let state = try? await site.store.state(task: token.taskID),
                let notice = stateNotice(state, text: text, locale: locale, status: .conflict)
            {
                return notice
            }
            return .message(
                .conflict, locale, title: .alreadyTitle, lead: PageText.text(.alreadyDecided, locale) + ".",
                tone: "notice")
        case "IF005": return page(.forbidden, .refusedSoD)
        case "IF002": return page(.forbidden, .refusedRight)
        case "IF003": return page(.conflict, .refusedStage)
        case "IF007": return notVisible(locale)
        case "IF001" where error.message.contains("p_expires_at"):
            return .message(
                .gone, locale, title: .expiredTitle, lead: PageText.text(.expiredLead, locale), tone: "warn")
        case "IF001": return page(.unprocessableContent, .commentRequired)
        default: return failed(error, context, locale)
        }
    }

    static func forged(_ locale: MailLocale) -> WebPage {
        .message(.notFound, locale, title: .forgedTitle, lead: PageText.text(.forgedLead, locale), tone: "bad")
    }

    static func notVisible(_ locale: MailLocale) -> WebPage {
        .message(.forbidden, locale, title: .notVisibleTitle, lead: PageText.text(.notVisibleLead, locale), tone: "bad")
    }

    static func failed(_ error: any Error, _ context: WebContext, _ locale: MailLocale) -> WebPage {
        context.logger.error("action link page failed", metadata: ["error": "\(error)"])
        return .message(
            .serviceUnavailable, locale, title: .errorTitle, lead: PageText.text(.errorLead, locale), tone: "bad")
    }
}
