import ConnectorKit
import Foundation
import MachineSimulator

/// Deterministic pseudo-random numbers, so a failing case can be replayed.
typealias SeededRandom = SplitMix64

/// Columns of every Sluice type with the values readers get wrong: extremes, NULLs in runs and
/// alone, empty and non-ASCII text, timestamps before 1970 and after 2262, decimals at the edges
/// of each physical width.
enum TestData {
    static let alphabet = Array("abcxyzäöü€日本😀 ;\"\\\n")
    static let labels = ["Prensa nº 3", "Ölpumpe", "注塑机 B", "", "press-01", "línea;2", "\"quoted\"", "tab\there"]

    static func pow10(_ n: Int) -> Int128 { (0..<n).reduce(Int128(1)) { r, _ in r * 10 } }

    /// `nullEvery`: 0 for no NULLs; otherwise about one row in `nullEvery` is NULL, plus runs.
    static func column(_ type: DataType, rows: Int, nullEvery: Int, distinct: Int? = nil, rng: inout SeededRandom) -> Column {
        var validity = [Bool](repeating: true, count: rows)
        if nullEvery > 0 {
            for i in 0..<rows where Int.random(in: 0..<nullEvery, using: &rng) == 0 { validity[i] = false }
            // A run of NULLs longer than a bit-packed group, and the first and last rows.
            if rows > 40 { for i in 17..<37 { validity[i] = false } }
            if rows > 0 { validity[0] = false }
            if rows > 1 { validity[rows - 1] = false }
        }
        func pick<T>(_ edges: [T], _ random: () -> T) -> [T] {
            (0..<rows).map { i in i % 97 < edges.count ? edges[i % 97] : random() }
        }
        let values: ColumnValues
        switch type {
        case .bool:
            values = .bool((0..<rows).map { _ in Bool.random(using: &rng) })
        case .int32:
            if let distinct {
                values = .int32((0..<rows).map { _ in Int32.random(in: 0..<Int32(distinct), using: &rng) - 5 })
            } else {
                values = .int32(pick([Int32.min, Int32.max, 0, -1]) { Int32.random(in: .min ... .max, using: &rng) })
            }
        case .int64:
            values = .int64(pick([Int64.min, Int64.max, 0, -1]) { Int64.random(in: .min ... .max, using: &rng) })
        case .float64:
            values = .float64(pick([0.0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -1.5, 0.1]) {
                Double.random(in: -1e6...1e6, using: &rng)
            })
        case .string:
            if let distinct {
                values = .string(StringColumn((0..<rows).map { _ in labels[Int.random(in: 0..<min(distinct, labels.count), using: &rng)] }))
            } else {
                values = .string(StringColumn((0..<rows).map { i in
                    let length = Int.random(in: 0...40, using: &rng)
                    return "r\(i)-" + String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
                }))
            }
        case .date:
            let lo = CivilDate.days(year: 1900, month: 1, day: 1), hi = CivilDate.days(year: 2300, month: 12, day: 31)
            values = .date(pick([Int32(lo), Int32(hi), 0, -1]) { Int32(Int.random(in: lo...hi, using: &rng)) })
        case .timestamp:
            let lo = Int64(CivilDate.days(year: 1901, month: 1, day: 1)) * 86_400_000_000
            let hi = Int64(CivilDate.days(year: 2300, month: 1, day: 1)) * 86_400_000_000
            values = .timestamp(pick([lo, hi, 0, -1, Int64(CivilDate.days(year: 2262, month: 4, day: 12)) * 86_400_000_000]) {
                Int64.random(in: lo...hi, using: &rng)
            })
        case let .decimal(precision, _):
            let limit = pow10(precision) - 1
            let small = Int128(Int64.random(in: -1_000_000...1_000_000, using: &rng))
            values = .decimal(pick([limit, -limit, 0, -1, small]) {
                // Random digits up to the full precision.
                let digits = Int.random(in: 1...precision, using: &rng)
                var v: Int128 = 0
                for _ in 0..<digits { v = v * 10 + Int128(Int.random(in: 0...9, using: &rng)) }
                return Bool.random(using: &rng) ? v : -v
            })
        }
        return Column(values, validity: nullEvery > 0 ? validity : nil)
    }

    /// A column of all NULLs.
    static func allNull(_ type: DataType, rows: Int) -> Column {
        var rng = SeededRandom(seed: 1)
        let c = column(type, rows: rows, nullEvery: 0, rng: &rng)
        return Column(c.values, validity: [Bool](repeating: false, count: rows))
    }

    /// The canonical text of row `row` (nil for NULL), as read_parquet.py prints it.
    static func canonical(_ column: Column, _ type: DataType, _ row: Int) -> String? {
        if column.isNull(row) { return nil }
        switch column.values {
        case let .bool(v): return v[row] ? "true" : "false"
        case let .int32(v): return String(v[row])
        case let .int64(v): return String(v[row])
        case let .float64(v): return v[row].isNaN ? "nan" : String(v[row].bitPattern)
        case let .decimal(v): return String(v[row])
        case let .string(v): return v[row]
        case let .date(v): return String(v[row])
        case let .timestamp(v): return String(v[row])
        }
    }
}
