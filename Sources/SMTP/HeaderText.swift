import Foundation

/// Why a message could not be built. Every field that reaches a header or the envelope is
/// checked here, so CR/LF injection fails loudly instead of producing a second header.
public enum MessageError: Error, Hashable, CustomStringConvertible {
    /// The text is not an address we accept; `reason` says which rule failed.
    case invalidAddress(String, reason: String)
    /// A field contains CR, LF or another control character.
    case headerInjection(field: String)
    /// A custom header name is not printable ASCII without a colon, or is one we set ourselves.
    case invalidHeaderName(String)
    /// A Message-ID is not `<dot-atom@dot-atom>`.
    case invalidMessageID(String)
    /// The message has no recipients.
    case noRecipients

    /// A sentence for logs and the CLI.
    public var description: String {
        switch self {
        case .invalidAddress(let text, let reason): "invalid address \(text.debugDescription): \(reason)"
        case .headerInjection(let field): "the \(field) contains a line break or control character"
        case .invalidHeaderName(let name): "invalid header name \(name.debugDescription)"
        case .invalidMessageID(let text): "invalid Message-ID \(text.debugDescription)"
        case .noRecipients: "the message has no recipients"
        }
    }
}

/// RFC 5322 header field rendering: RFC 2047 encoded words and folding.
enum HeaderText {
    /// RFC 2047 §2: an encoded word is at most 75 characters, and a line holding one at most 76.
    static let maximumEncodedWordLength = 75
    static let maximumLineLength = 76
    /// `=?UTF-8?B?` plus `?=`.
    static let encodedWordOverhead = 12

    /// Refuses C0 and C1 controls, DEL and the Unicode line separators, which some clients treat
    /// as line breaks.
    static func requireNoControlCharacters(_ text: String, field: String) throws(MessageError) {
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0x85:
                throw .headerInjection(field: field)
            default: continue
            }
        }
    }

    /// Splits `text` into B encoded words. The first word fits `firstBudget` characters (what is
    /// left of the first line), the others 75. Words end only between grapheme clusters, or between
    /// scalars of a cluster too long for one word, so no decoder ever sees half a character; they
    /// preferably end just after a space, so that decoders which wrongly keep the folding white
    /// space between encoded words (Python's address parser does) at worst double a space
    /// rather than split a word.
    static func encodedWords(_ text: String, firstBudget: Int) -> [String] {
        func capacity(_ budget: Int) -> Int { max(1, (budget - encodedWordOverhead) / 4) * 3 }
        var words: [String] = []
        var current: [UInt8] = []
        var afterLastSpace: Int?
        var limit = capacity(min(firstBudget, maximumEncodedWordLength))
        func flush(keeping carried: Int = 0) {
            guard current.count > carried else { return }
            let rest = Array(current.suffix(carried))
            words.append("=?UTF-8?B?" + Data(current.dropLast(carried)).base64EncodedString() + "?=")
            current = rest
            afterLastSpace = nil
            limit = capacity(maximumEncodedWordLength)
        }
        for character in text {
            let bytes = Array(String(character).utf8)
            if current.count + bytes.count <= limit {
                current += bytes
            } else if bytes.count <= capacity(maximumEncodedWordLength) {
                if let afterLastSpace, afterLastSpace * 2 >= limit {
                    flush(keeping: current.count - afterLastSpace)
                } else {
                    flush()
                }
                if current.count + bytes.count > limit { flush() }
                current += bytes
            } else {
                // A cluster longer than a whole word (long emoji sequences, stacked accents):
                // fall back to scalar boundaries, which still never split a UTF-8 sequence.
                for scalar in character.unicodeScalars {
                    let scalarBytes = Array(String(scalar).utf8)
                    if current.count + scalarBytes.count > limit { flush() }
                    current += scalarBytes
                }
            }
            if character == " " { afterLastSpace = current.count }
        }
        flush()
        return words
    }

    /// Whether ASCII text can go into a header as it is: printable, single spaces between
    /// words, no `=?` that a decoder could mistake for an encoded word, no word too long to fold.
    static func isPlainFoldable(_ text: String) -> Bool {
        guard text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }), !text.contains("=?"),
            !text.contains("  "), text.first != " ", text.last != " "
        else { return false }
        return text.split(separator: " ").allSatisfy { $0.utf8.count <= 900 }
    }

    /// An unstructured field such as Subject (RFC 5322 §3.2.5), folded, ending in CRLF.
    static func unstructured(name: String, value: String) throws(MessageError) -> String {
        try requireNoControlCharacters(value, field: name)
        if value.isEmpty { return name + ":\r\n" }
        let tokens =
            isPlainFoldable(value)
            ? value.split(separator: " ").map(String.init)
            : encodedWords(value, firstBudget: maximumLineLength - name.utf8.count - 2)
        return fold(name: name, tokens: tokens)
    }

    /// A display name as a list of phrase tokens: atoms, one quoted string, or encoded words.
    static func phraseTokens(_ name: String, budget: Int) -> [String] {
        let isAtomsAndSpaces =
            isPlainFoldable(name)
            && name.utf8.allSatisfy { $0 == UInt8(ascii: " ") || EmailAddress.isAtext($0) }
        if isAtomsAndSpaces { return name.split(separator: " ").map(String.init) }
        if isPlainFoldable(name) && name.utf8.count <= 60 {
            var quoted = "\""
            for character in name {
                if character == "\"" || character == "\\" { quoted.append("\\") }
                quoted.append(character)
            }
            return [quoted + "\""]
        }
        return encodedWords(name, firstBudget: budget)
    }

    /// An address-list field (From, To, Reply-To), folded, ending in CRLF.
    static func addressList(name: String, mailboxes: [Mailbox]) -> String {
        var tokens: [String] = []
        for (index, mailbox) in mailboxes.enumerated() {
            let separator = index < mailboxes.count - 1 ? "," : ""
            guard let displayName = mailbox.displayName else {
                tokens.append(mailbox.address.description + separator)
                continue
            }
            let budget = tokens.isEmpty ? maximumLineLength - name.utf8.count - 2 : maximumEncodedWordLength
            tokens += phraseTokens(displayName, budget: budget)
            tokens.append("<\(mailbox.address)>" + separator)
        }
        return fold(name: name, tokens: tokens)
    }

    /// Joins tokens with single spaces, starting a continuation line (CRLF SP) whenever the
    /// next token would make the line longer than 76 characters.
    static func fold(name: String, tokens: [String]) -> String {
        var result = ""
        var line = name + ":"
        for token in tokens {
            if line.utf8.count + 1 + token.utf8.count > maximumLineLength && line != name + ":" {
                result += line + "\r\n"
                line = " " + token
            } else {
                line += " " + token
            }
        }
        return result + line + "\r\n"
    }
}
