/// CRC-32 (IEEE 802.3, as zlib), used to recognise the content already consumed from a file.
/// Written here because ConnectorKit takes no C dependency; slicing-by-8 keeps it fast.
public struct CRC32: Sendable, Equatable, Codable {
    public private(set) var value: UInt32 = 0

    public init() {}

    /// Continues a CRC from a value computed earlier (e.g. one saved in a checkpoint).
    public init(resuming value: UInt32) { self.value = value }

    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        update(bytes)
    }

    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xFF)] }
        }
        return t
    }()

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Bool? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }.map { true }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    public mutating func update(_ buf: UnsafeRawBufferPointer) {
        var c = ~value
        CRC32.tables.withUnsafeBufferPointer { tablesPtr in
            let t0 = tablesPtr[0], t1 = tablesPtr[1], t2 = tablesPtr[2], t3 = tablesPtr[3]
            let t4 = tablesPtr[4], t5 = tablesPtr[5], t6 = tablesPtr[6], t7 = tablesPtr[7]
            var i = 0
            let n = buf.count
            while i + 8 <= n {
                let a = c ^ (UInt32(buf[i]) | UInt32(buf[i + 1]) << 8 | UInt32(buf[i + 2]) << 16 | UInt32(buf[i + 3]) << 24)
                c = t7[Int(a & 0xFF)] ^ t6[Int((a >> 8) & 0xFF)] ^ t5[Int((a >> 16) & 0xFF)] ^ t4[Int(a >> 24)]
                    ^ t3[Int(buf[i + 4])] ^ t2[Int(buf[i + 5])] ^ t1[Int(buf[i + 6])] ^ t0[Int(buf[i + 7])]
                i += 8
            }
            while i < n {
                c = t0[Int((c ^ UInt32(buf[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        value = ~c
    }
}
