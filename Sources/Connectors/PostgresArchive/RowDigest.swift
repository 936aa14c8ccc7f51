import ConnectorKit
import CoreConnectors
import ParquetConnector
import PostgresConnector
import Crypto

/// SHA-256 over every value of every row, in order: what the archive computes from the
/// partition's COPY and again from the Parquet file read back, so that any lost, added, reordered
/// or altered value shows. Each value is a type tag and its bytes; NULL is its own tag.
struct RowDigest {
    private var hasher = SHA256()
    private var scratch: [UInt8] = []
    private(set) var rows: Int64 = 0

    mutating func update(_ batch: RecordBatch) {
        scratch.removeAll(keepingCapacity: true)
        for r in 0..<batch.count {
            for column in batch.columns {
                if column.isNull(r) { scratch.append(0); continue }
                switch column.values {
                case let .bool(a): scratch.append(a[r] ? 2 : 1)
                case let .int32(a): scratch.append(3); append(a[r])
                case let .int64(a): scratch.append(4); append(a[r])
                case let .float64(a): scratch.append(5); append(a[r].bitPattern)
                case let .decimal(a): scratch.append(6); append(UInt64(truncatingIfNeeded: a[r])); append(UInt64(truncatingIfNeeded: a[r] >> 64))
                case let .string(s):
                    scratch.append(7)
                    append(UInt32(s.range(r).count))
                    scratch.append(contentsOf: s.bytes[s.range(r)])
                case let .date(a): scratch.append(8); append(a[r])
                case let .timestamp(a): scratch.append(9); append(a[r])
                }
            }
            if scratch.count > 1 << 20 { flushScratch() }
        }
        flushScratch()
        rows += Int64(batch.count)
    }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { scratch.append(contentsOf: $0) }
    }

    private mutating func flushScratch() {
        hasher.update(data: scratch)
        scratch.removeAll(keepingCapacity: true)
    }

    func finalize() -> String {
        hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// SHA-256 of a whole file, read in 1 MiB pieces.
    static func sha256(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConnectorError(.io, "cannot read \(path): \(FileUtilities.errnoText())") }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw ConnectorError(.io, "cannot read \(path): \(FileUtilities.errnoText())") }
            if n == 0 { break }
            hasher.update(data: buffer[0..<n])
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
