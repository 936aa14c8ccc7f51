extension Column {
    /// The rows of `parts`, one after another. All parts must hold the same type.
    public static func concatenate(_ parts: [Column]) -> Column {
        guard let first = parts.first else { return Column(.int32([])) }
        if parts.count == 1 { return first }
        let total = parts.reduce(0) { $0 + $1.count }
        let validity: [Bool]? = parts.contains { $0.validity != nil }
            ? parts.flatMap { $0.validity ?? [Bool](repeating: true, count: $0.count) } : nil
        func join<T>(_ extract: (ColumnValues) -> [T]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(total)
            for p in parts { out.append(contentsOf: extract(p.values)) }
            return out
        }
        let values: ColumnValues
        switch first.values {
        case .bool: values = .bool(join { if case let .bool(a) = $0 { a } else { preconditionFailure("mixed column types") } })
        case .int32: values = .int32(join { if case let .int32(a) = $0 { a } else { preconditionFailure("mixed column types") } })
        case .int64: values = .int64(join { if case let .int64(a) = $0 { a } else { preconditionFailure("mixed column types") } })
        case .float64: values = .float64(join { if case let .float64(a) = $0 { a } else { preconditionFailure("mixed column types") } })
        case .decimal: values = .decimal(join { if case let .decimal(a) = $0 { a } else { preconditionFailure("mixed column types") } })
        case .date: values = .date(join { if case let .date(a) = $0 { a } else { preconditionFailure("mixed column types") } })
        case .timestamp: values = .timestamp(join { if case let .timestamp(a) = $0 { a } else { preconditionFailure("mixed column types") } })
        case .string:
            let bytes = parts.reduce(0) { if case let .string(s) = $1.values { $0 + s.bytes.count } else { $0 } }
            var out = StringColumn(reservingRows: total, bytes: bytes)
            for p in parts {
                guard case let .string(s) = p.values else { preconditionFailure("mixed column types") }
                let base = Int32(truncatingIfNeeded: out.bytes.count)
                out.bytes.append(contentsOf: s.bytes)
                for o in s.offsets.dropFirst() { out.offsets.append(base + o) }
            }
            values = .string(out)
        }
        return Column(values, validity: validity)
    }
}
