/// A shell-style glob over `/`-separated relative paths: `*` and `?` within one path segment,
/// `[abc]`/`[a-z]`/`[!x]` classes, `{a,b}` alternatives, and `**` for any number of directories.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let segments: [String]

    /// - Parameter recursive: a pattern without `/` then matches at any depth (as if `**/` prefixed).
    public init(_ pattern: String, recursive: Bool = false) {
        var p = pattern
        while p.hasPrefix("./") { p.removeFirst(2) }
        if recursive && !p.contains("/") { p = "**/" + p }
        self.pattern = p
        segments = p.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    public var description: String { pattern }

    /// True if `path` (relative, `/`-separated) matches the whole pattern.
    public func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/").map { Array($0.utf8) }
        return Glob.match(segments.map { Array($0.utf8) }[...], parts[...])
    }

    /// True if some path below directory `dir` could match, so a walker should descend into it.
    public func mayMatchBelow(_ dir: String) -> Bool {
        let parts = dir.split(separator: "/").map { Array($0.utf8) }
        let segs = segments.map { Array($0.utf8) }
        return Glob.prefixMatch(segs[...], parts[...])
    }

    private static func match(_ segs: ArraySlice<[UInt8]>, _ parts: ArraySlice<[UInt8]>) -> Bool {
        guard let first = segs.first else { return parts.isEmpty }
        if first == Array("**".utf8) {
            let rest = segs.dropFirst()
            var p = parts
            while true {
                if match(rest, p) { return true }
                if p.isEmpty { return false }
                p = p.dropFirst()
            }
        }
        guard let part = parts.first, matchSegment(first[...], part[...]) else { return false }
        return match(segs.dropFirst(), parts.dropFirst())
    }

    private static func prefixMatch(_ segs: ArraySlice<[UInt8]>, _ parts: ArraySlice<[UInt8]>) -> Bool {
        guard let part = parts.first else { return !segs.isEmpty }
        guard let first = segs.first else { return false }
        if first == Array("**".utf8) { return true }
        guard matchSegment(first[...], part[...]) else { return false }
        return prefixMatch(segs.dropFirst(), parts.dropFirst())
    }

    /// Matches one segment pattern against one name (bytes; UTF-8 multi-byte characters
    /// count as several `?`, which is harmless for file globs).
    static func matchSegment(_ pat: ArraySlice<UInt8>, _ name: ArraySlice<UInt8>) -> Bool {
        var p = pat.startIndex, n = name.startIndex
        while p < pat.endIndex {
            let c = pat[p]
            switch c {
            case UInt8(ascii: "*"):
                let rest = pat[(p + 1)...]
                var k = n
                while true {
                    if matchSegment(rest, name[k...]) { return true }
                    if k == name.endIndex { return false }
                    k += 1
                }
            case UInt8(ascii: "?"):
                guard n < name.endIndex else { return false }
                p += 1; n += 1
            case UInt8(ascii: "["):
                guard n < name.endIndex, let close = pat[(p + 1)...].firstIndex(of: UInt8(ascii: "]")) else { return false }
                var set = pat[(p + 1)..<close]
                var negate = false
                if let f = set.first, f == UInt8(ascii: "!") || f == UInt8(ascii: "^") { negate = true; set = set.dropFirst() }
                var hit = false
                var i = set.startIndex
                while i < set.endIndex {
                    if i + 2 < set.endIndex, set[i + 1] == UInt8(ascii: "-") {
                        if (set[i]...set[i + 2]).contains(name[n]) { hit = true }
                        i += 3
                    } else {
                        if set[i] == name[n] { hit = true }
                        i += 1
                    }
                }
                guard hit != negate else { return false }
                p = close + 1; n += 1
            case UInt8(ascii: "{"):
                guard let close = pat[(p + 1)...].firstIndex(of: UInt8(ascii: "}")) else { return false }
                let rest = pat[(close + 1)...]
                for alt in pat[(p + 1)..<close].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    if matchSegment(ArraySlice(Array(alt) + Array(rest)), name[n...]) { return true }
                }
                return false
            default:
                guard n < name.endIndex, name[n] == c else { return false }
                p += 1; n += 1
            }
        }
        return n == name.endIndex
    }
}
