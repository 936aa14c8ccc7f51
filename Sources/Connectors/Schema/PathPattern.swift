/// A path pattern with named captures: `{machine}/*.csv`, `plant-{site}/{machine}_*.txt`.
/// `{name}` matches one or more characters within a path segment, `*` any within a segment,
/// `**` anything including `/`.
public struct PathPattern: Sendable, Equatable {
    enum Part: Sendable, Equatable { case literal(String), capture(String), star, doubleStar }
    let parts: [Part]
    public let captures: [String]

    public init?(_ text: String) {
        var parts: [Part] = []
        var caps: [String] = []
        var lit = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "{" {
                guard let close = text[i...].firstIndex(of: "}") else { return nil }
                let name = String(text[text.index(after: i)..<close])
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
                if !lit.isEmpty { parts.append(.literal(lit)); lit = "" }
                parts.append(.capture(name))
                caps.append(name)
                i = text.index(after: close)
                continue
            }
            if c == "*" {
                if !lit.isEmpty { parts.append(.literal(lit)); lit = "" }
                let next = text.index(after: i)
                if next < text.endIndex && text[next] == "*" { parts.append(.doubleStar); i = text.index(after: next) } else { parts.append(.star); i = next }
                continue
            }
            lit.append(c)
            i = text.index(after: i)
        }
        if !lit.isEmpty { parts.append(.literal(lit)) }
        self.parts = parts
        captures = caps
    }

    /// The captures when `path` matches the whole pattern; a pattern without a leading `/` may
    /// match the end of a longer path (the last segments).
    public func match(_ path: String) -> [String: String]? {
        let chars = Array(path)
        var starts = [0]
        for (k, c) in chars.enumerated() where c == "/" { starts.append(k + 1) }
        for s in starts {
            var out: [String: String] = [:]
            if matchFrom(0, chars, s, &out) { return out }
        }
        return nil
    }

    private func matchFrom(_ p: Int, _ s: [Character], _ i: Int, _ out: inout [String: String]) -> Bool {
        if p == parts.count { return i == s.count }
        switch parts[p] {
        case let .literal(l):
            let lc = Array(l)
            guard i + lc.count <= s.count, Array(s[i..<(i + lc.count)]) == lc else { return false }
            return matchFrom(p + 1, s, i + lc.count, &out)
        case let .capture(name):
            var j = i + 1
            while j <= s.count {
                if s[j - 1] == "/" { return false }
                out[name] = String(s[i..<j])
                if matchFrom(p + 1, s, j, &out) { return true }
                j += 1
            }
            out[name] = nil
            return false
        case .star, .doubleStar:
            let crossSlash = parts[p] == .doubleStar
            var j = i
            while j <= s.count {
                if matchFrom(p + 1, s, j, &out) { return true }
                if j < s.count && s[j] == "/" && !crossSlash { return false }
                j += 1
            }
            return false
        }
    }
}
