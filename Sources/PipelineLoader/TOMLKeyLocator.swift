/// Finds the line of every key in a TOML text, and the order keys were written in.
///
/// TOMLKit (toml++) reports positions only for syntax errors and returns tables in sorted order,
/// so this small scanner runs over the text to recover both. It runs first, on any text (it is
/// fuzzed), and also finds the nameless table headers that toml++ cannot be trusted with. Paths use the same
/// form as `ConfigNode.path`: array-of-tables elements and array items are numbered from 0.
struct TOMLKeyLocator {
    private(set) var positions: [[String]: (line: Int, order: Int)] = [:]
    private var bytes: [UInt8]
    private var i = 0
    private var line = 1
    private var order = 0
    private var arrayTableCounts: [[String]: Int] = [:]
    /// The first table header with no name (`[ = …`, `[[]]`): TOMLKit's parser (toml++) asserts
    /// on some of these instead of reporting them, so they are reported before it runs.
    private(set) var namelessHeaderLine: Int?

    init(_ text: String) {
        bytes = Array(text.utf8)
        scanDocument()
    }

    func line(of path: [String]) -> Int? { positions[path]?.line }
    func order(of path: [String]) -> Int? { positions[path]?.order }

    private mutating func record(_ path: [String], at line: Int) {
        if positions[path] == nil {
            positions[path] = (line, order)
            order += 1
        }
    }

    private var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func advance() {
        if bytes[i] == 0x0A { line += 1 }
        i += 1
    }

    private mutating func skipSpaces() {
        while let c = current, c == 0x20 || c == 0x09 { advance() }
    }

    private mutating func skipBlankAndComments() {
        while let c = current {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { advance(); continue }
            if c == UInt8(ascii: "#") { while let d = current, d != 0x0A { advance() }; continue }
            break
        }
    }

    /// Resolves a header path: prefixes that are arrays of tables mean their last element.
    private func resolve(_ path: [String]) -> [String] {
        var out: [String] = []
        for part in path {
            out.append(part)
            if let n = arrayTableCounts[out] { out.append(String(n - 1)) }
        }
        return out
    }

    private mutating func scanDocument() {
        var table: [String] = []
        while true {
            skipBlankAndComments()
            guard let c = current else { return }
            if c == UInt8(ascii: "[") {
                let headerLine = line
                advance()
                let isArray = current == UInt8(ascii: "[")
                if isArray { advance() }
                skipSpaces()
                let path = readKeyPath()
                if path.isEmpty && namelessHeaderLine == nil { namelessHeaderLine = headerLine }
                while let d = current, d != 0x0A { advance() }
                if isArray {
                    let parent = resolve(Array(path.dropLast()))
                    let full = parent + [path.last ?? ""]
                    let n = arrayTableCounts[full, default: 0]
                    arrayTableCounts[full] = n + 1
                    record(full, at: headerLine)
                    table = full + [String(n)]
                    record(table, at: headerLine)
                } else {
                    table = resolve(path)
                    for k in 1...max(1, table.count) where k <= table.count { record(Array(table.prefix(k)), at: headerLine) }
                }
                continue
            }
            let keyLine = line
            let key = readKeyPath()
            guard !key.isEmpty else { advance(); continue }
            for k in 1...key.count { record(table + key.prefix(k), at: keyLine) }
            skipSpaces()
            if current == UInt8(ascii: "=") { advance() }
            skipSpaces()
            scanValue(table + key)
        }
    }

    private mutating func readKeyPath() -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let c = current else { return parts }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                let quote = c
                advance()
                var s: [UInt8] = []
                while let d = current, d != quote, d != 0x0A {
                    if d == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") { advance() }
                    if let e = current { s.append(e) }
                    advance()
                }
                if current == quote { advance() }
                parts.append(String(decoding: s, as: UTF8.self))
            } else {
                var s: [UInt8] = []
                while let d = current, (d >= 0x30 && d <= 0x39) || (d | 0x20 >= 0x61 && d | 0x20 <= 0x7A) || d == UInt8(ascii: "_") || d == UInt8(ascii: "-") {
                    s.append(d)
                    advance()
                }
                if s.isEmpty { return parts }
                parts.append(String(decoding: s, as: UTF8.self))
            }
            skipSpaces()
            if current == UInt8(ascii: ".") { advance(); continue }
            return parts
        }
    }

    private mutating func scanValue(_ path: [String]) {
        guard let c = current else { return }
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
            let q = c
            if i + 2 < bytes.count && bytes[i + 1] == q && bytes[i + 2] == q {
                advance(); advance(); advance()
                while i + 2 < bytes.count && !(bytes[i] == q && bytes[i + 1] == q && bytes[i + 2] == q) {
                    if bytes[i] == UInt8(ascii: "\\") && q == UInt8(ascii: "\"") { advance() }
                    advance()
                }
                while current == q { advance() }
                return
            }
            advance()
            while let d = current, d != q, d != 0x0A {
                if d == UInt8(ascii: "\\") && q == UInt8(ascii: "\"") { advance() }
                advance()
            }
            if current == q { advance() }
            return
        }
        if c == UInt8(ascii: "{") {
            advance()
            while true {
                skipBlankAndComments()
                guard let d = current else { return }
                if d == UInt8(ascii: "}") { advance(); return }
                if d == UInt8(ascii: ",") { advance(); continue }
                let keyLine = line
                let key = readKeyPath()
                guard !key.isEmpty else { advance(); continue }
                for k in 1...key.count { record(path + key.prefix(k), at: keyLine) }
                skipSpaces()
                if current == UInt8(ascii: "=") { advance() }
                skipSpaces()
                scanValue(path + key)
            }
        }
        if c == UInt8(ascii: "[") {
            advance()
            var index = 0
            while true {
                skipBlankAndComments()
                guard let d = current else { return }
                if d == UInt8(ascii: "]") { advance(); return }
                if d == UInt8(ascii: ",") { advance(); continue }
                record(path + [String(index)], at: line)
                let before = i
                scanValue(path + [String(index)])
                // A character no value starts with (a stray `}` in an array): step over it, or
                // this loop would never end (found by fuzzing).
                if i == before { advance() }
                index += 1
            }
        }
        while let d = current, d != 0x0A, d != UInt8(ascii: ","), d != UInt8(ascii: "]"), d != UInt8(ascii: "}"), d != UInt8(ascii: "#") { advance() }
    }
}
