import Foundation
import ConnectorKit

/// One `keep if` condition: `column op literal`, or `column is [not] null`.
/// Comparisons with NULL are false, as in SQL.
struct FilterCondition: Sendable {
    enum Op: String, Sendable { case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", isNull, isNotNull }
    enum Literal: Sendable { case string(String), number(Double), bool(Bool) }
    struct ParseError: Error { var message: String }

    let column: String
    let op: Op
    let literal: Literal?

    init(parsing text: String) throws(ParseError) {
        let t = text.trimmingCharacters(in: .whitespaces)
        let lower = t.lowercased()
        if lower.hasSuffix(" is not null") {
            column = String(t.dropLast(" is not null".count)).trimmingCharacters(in: .whitespaces)
            op = .isNotNull
            literal = nil
        } else if lower.hasSuffix(" is null") {
            column = String(t.dropLast(" is null".count)).trimmingCharacters(in: .whitespaces)
            op = .isNull
            literal = nil
        } else {
            let ops: [(String, Op)] = [("==", .eq), ("!=", .ne), ("<>", .ne), ("<=", .le), (">=", .ge), ("<", .lt), (">", .gt), ("=", .eq)]
            guard let (sym, o) = ops.first(where: { t.contains($0.0) }), let r = t.range(of: sym) else {
                throw ParseError(message: "expected `column op value` with op one of == != < <= > >=, or `column is [not] null`")
            }
            column = t[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
            op = o
            let v = t[r.upperBound...].trimmingCharacters(in: .whitespaces)
            if (v.hasPrefix("'") && v.hasSuffix("'") || v.hasPrefix("\"") && v.hasSuffix("\"")) && v.count >= 2 {
                literal = .string(String(v.dropFirst().dropLast()))
            } else if v == "true" || v == "false" {
                literal = .bool(v == "true")
            } else if let d = Double(v) {
                literal = .number(d)
            } else {
                throw ParseError(message: "the value \(v) must be a number, true/false, or a quoted string")
            }
        }
        guard !column.isEmpty, !column.contains(" ") else { throw ParseError(message: "expected a column name before the operator") }
    }

    /// Which rows pass. Throws a message when the column is missing or the literal does not fit its type.
    func evaluate(_ batch: RecordBatch) throws(ParseError) -> [Bool] {
        guard let idx = batch.schema.index(of: column) else {
            throw ParseError(message: "filter names column '\(column)', which is not in the output (\(batch.schema.names.joined(separator: ", ")))")
        }
        let col = batch.columns[idx]
        let n = batch.count
        if op == .isNull { return (0..<n).map { col.isNull($0) } }
        if op == .isNotNull { return (0..<n).map { !col.isNull($0) } }
        var keep = [Bool](repeating: false, count: n)
        func cmp<T: Comparable>(_ a: T, _ b: T) -> Bool {
            switch op {
            case .eq: a == b
            case .ne: a != b
            case .lt: a < b
            case .le: a <= b
            case .gt: a > b
            case .ge: a >= b
            case .isNull, .isNotNull: false
            }
        }
        func number() throws(ParseError) -> Double {
            guard case let .number(d)? = literal else { throw ParseError(message: "column '\(column)' is numeric; compare it with a number") }
            return d
        }
        switch col.values {
        case let .int32(a): let d = try number(); for i in 0..<n where !col.isNull(i) { keep[i] = cmp(Double(a[i]), d) }
        case let .int64(a): let d = try number(); for i in 0..<n where !col.isNull(i) { keep[i] = cmp(Double(a[i]), d) }
        case let .float64(a): let d = try number(); for i in 0..<n where !col.isNull(i) { keep[i] = cmp(a[i], d) }
        case let .decimal(a):
            let d = try number()
            var scale = 1.0
            if case let .decimal(_, s) = batch.schema.fields[idx].type { for _ in 0..<s { scale *= 10 } }
            for i in 0..<n where !col.isNull(i) { keep[i] = cmp(Double(a[i]) / scale, d) }
        case let .bool(a):
            guard case let .bool(b)? = literal, op == .eq || op == .ne else {
                throw ParseError(message: "column '\(column)' is bool; use == true/false or != true/false")
            }
            for i in 0..<n where !col.isNull(i) { keep[i] = op == .eq ? a[i] == b : a[i] != b }
        case let .string(s):
            guard case let .string(lit)? = literal else { throw ParseError(message: "column '\(column)' is a string; quote the value") }
            let litBytes = Array(lit.utf8)
            for i in 0..<n where !col.isNull(i) {
                keep[i] = s.withBytes(i) { b in cmp(ByteString(Array(b)), ByteString(litBytes)) }
            }
        case let .date(a):
            guard case let .string(lit)? = literal, let p = Self.iso(lit) else { throw ParseError(message: "column '\(column)' is a date; compare with 'yyyy-MM-dd'") }
            let day = Int32(CivilDate.day(ofMicros: p.micros))
            for i in 0..<n where !col.isNull(i) { keep[i] = cmp(a[i], day) }
        case let .timestamp(a):
            guard case let .string(lit)? = literal, let p = Self.iso(lit) else { throw ParseError(message: "column '\(column)' is a timestamp; compare with an ISO 8601 text") }
            let t = p.micros - Int64(p.offsetSeconds ?? 0) * 1_000_000
            for i in 0..<n where !col.isNull(i) { keep[i] = cmp(a[i], t) }
        }
        return keep
    }

    private static func iso(_ s: String) -> TimeFormat.Parsed? {
        let f = try? TimeFormat("iso8601")
        return Array(s.utf8).withUnsafeBufferPointer { f?.parse($0) }
    }
}

/// Bytewise ordering of UTF-8 strings (the same order as code points).
struct ByteString: Comparable {
    let bytes: [UInt8]
    init(_ b: [UInt8]) { bytes = b }
    static func < (l: ByteString, r: ByteString) -> Bool { l.bytes.lexicographicallyPrecedes(r.bytes) }
}
