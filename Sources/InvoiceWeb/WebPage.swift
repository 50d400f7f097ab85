import Foundation
import HTTPTypes
import Hummingbird
import InvoiceDaemon

/// Text made safe for HTML: every value from the database or the request goes through ``HTML/escape(_:)``
/// before it is written into a page; only the page builders' own markup is written raw.
enum HTML {
    /// Escapes `&`, `<`, `>`, `"` and `'`, which is enough for element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

/// A complete HTML page: the shared layout (phone-first CSS, no scripts, no external assets) around a body.
struct WebPage {
    var status: HTTPResponse.Status
    var locale: MailLocale
    var title: String
    /// Markup built with ``HTML/escape(_:)`` for every value.
    var body: String

    /// The one stylesheet, inline; the CSP allows exactly its hash.
    static let css = """
        *{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;\
        color:#1d2330;background:#f3f5f8}main{max-width:46rem;margin:0 auto;padding:1rem}\
        h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}\
        .box{background:#fff;border:1px solid #d8dde6;border-radius:.5rem;padding:1rem;margin:0 0 1rem}\
        .notice{border-left:.3rem solid #2d6cdf}.warn{border-left:.3rem solid #d9822b}.bad{border-left:.3rem solid #c23030}\
        .ok{border-left:.3rem solid #238551}dl{display:grid;grid-template-columns:minmax(8rem,35%) 1fr;gap:.3rem .8rem;margin:0}\
        dt{color:#5c6577}dd{margin:0;overflow-wrap:anywhere}ol,ul{padding-left:1.2rem;margin:0}li{margin:.3rem 0}\
        .muted{color:#5c6577;font-size:.9rem}label{display:block;margin:.5rem 0 .2rem;font-weight:600}\
        textarea,select{width:100%;font:inherit;padding:.5rem;border:1px solid #b8c0cc;border-radius:.4rem}\
        textarea{min-height:5rem}button{font:inherit;font-weight:600;border:0;border-radius:.4rem;padding:.7rem 1.1rem;\
        margin:.6rem .4rem 0 0;cursor:pointer;color:#fff;background:#238551}button.reject{background:#c23030}\
        button.neutral{background:#2d6cdf}a{color:#2d6cdf}\
        @media (max-width:30rem){dl{grid-template-columns:1fr}dt{margin-top:.4rem}button{width:100%;margin-right:0}}
        """

    static let styleSource = ContentSecurityHash.source(of: css)

    /// The security headers of every page: nothing but our own inline stylesheet may load, forms post only
    /// to us, no framing, no referrer leaking the link, nothing cached (the page holds a live link).
    static var securityHeaders: HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = "text/html; charset=utf-8"
        fields[.cacheControl] = "no-store"
        fields[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src \(styleSource); form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        fields[HTTPField.Name("X-Frame-Options")!] = "DENY"
        fields[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        fields[HTTPField.Name("Vary")!] = "Accept-Language"
        return fields
    }

    var html: String {
        """
        <!doctype html>
        <html lang="\(locale.rawValue)">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <meta name="robots" content="noindex, nofollow">
        <title>\(HTML.escape(title)) — InvoiceFlow</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <main>
        <h1>\(HTML.escape(title))</h1>
        \(body)
        </main>
        </body>
        </html>

        """
    }

    var response: Response {
        Response(
            status: status, headers: Self.securityHeaders, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// A page that is only a message in a coloured box, optionally with a link.
    static func message(
        _ status: HTTPResponse.Status, _ locale: MailLocale, title: PageText.Key, lead: String, tone: String,
        link: (href: String, text: String)? = nil, extra: String = ""
    ) -> WebPage {
        var body = "<div class=\"box \(tone)\"><p>\(HTML.escape(lead))</p>"
        if let link {
            body += "<p><a href=\"\(HTML.escape(link.href))\">\(HTML.escape(link.text))</a></p>"
        }
        body += "</div>" + extra
        return WebPage(status: status, locale: locale, title: PageText.text(title, locale), body: body)
    }
}

extension MailLocale {
    /// The page language: `?lang=en|ru` wins, then the first of English or Russian in Accept-Language,
    /// else Russian.
    static func forRequest(_ request: Request) -> MailLocale {
        if let lang = request.uri.queryParameters.get("lang"), let locale = MailLocale(rawValue: lang.lowercased()) {
            return locale
        }
        let header = request.headers[.acceptLanguage] ?? ""
        let ranked =
            header.split(separator: ",")
            .compactMap { part -> (String, Double)? in
                let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let tag = pieces.first?.lowercased().split(separator: "-").first else { return nil }
                var quality = 1.0
                for piece in pieces.dropFirst() where piece.hasPrefix("q=") {
                    quality = Double(piece.dropFirst(2)) ?? 0
                }
                return (String(tag), quality)
            }
            .filter { $0.1 > 0 }
            .sorted { $0.1 > $1.1 }
        for (tag, _) in ranked {
            if let locale = MailLocale(rawValue: tag) { return locale }
        }
        return .ru
    }
}

/// `application/x-www-form-urlencoded` bodies: the few fields of the confirmation forms.
enum FormBody {
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let name = decode(parts[0])
            // The first value wins: a duplicated field cannot override what the page sent.
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }
}
