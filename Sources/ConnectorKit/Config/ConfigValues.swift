import Foundation

/// A string option restricted to a fixed set of words; decoding says which words are allowed.
public protocol ConfigEnum: RawRepresentable<String>, CaseIterable, Decodable, Sendable {}

extension ConfigEnum {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = Self(rawValue: s) else {
            let allowed = Self.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            var msg = "expected one of \(allowed), found \"\(s)\""
            if let g = Suggest.closest(to: s, among: Self.allCases.map(\.rawValue)) { msg += "; did you mean \"\(g)\"?" }
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: msg))
        }
        self = v
    }
}

/// A duration written as `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"` (or a bare number of seconds).
public struct ConfigDuration: Decodable, Sendable, Hashable, CustomStringConvertible {
    public var seconds: Double
    public var description: String

    public init(seconds: Double) {
        self.seconds = seconds
        description = "\(seconds)s"
    }

    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if let v = Double(number), v >= 0 {
                seconds = v * factor
                description = text
                return
            }
        }
        guard let v = Double(t), v >= 0 else { return nil }
        seconds = v
        description = text
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Double.self) {
            guard n >= 0 else {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "expected a non-negative duration"))
            }
            self.init(seconds: n)
            return
        }
        let s = try c.decode(String.self)
        guard let d = ConfigDuration(parsing: s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath,
                debugDescription: "expected a duration such as \"500ms\", \"30s\", \"5m\", \"2h\", found \"\(s)\""))
        }
        self = d
    }
}

/// A secret value (password, key passphrase): prints as `<redacted>` in logs and errors.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, Decodable {
    public let value: String
    public init(_ value: String) { self.value = value }
    public init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(String.self) }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// `${VAR}` expansion from the environment; `$${` writes a literal `${`.
public enum EnvironmentExpansion {
    public struct MissingVariable: Error, Sendable { public var name: String }

    public static func expand(_ text: String, environment: [String: String]) throws(MissingVariable) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "$" {
                let next = text.index(after: i)
                if next < text.endIndex, text[next] == "$", text[text.index(after: next)...].hasPrefix("{") {
                    out.append("$")
                    i = text.index(after: next)
                    continue
                }
                if next < text.endIndex, text[next] == "{", let close = text[next...].firstIndex(of: "}") {
                    let name = String(text[text.index(after: next)..<close])
                    guard let v = environment[name] else { throw MissingVariable(name: name) }
                    out += v
                    i = text.index(after: close)
                    continue
                }
            }
            out.append(c)
            i = text.index(after: i)
        }
        return out
    }
}
