import ConnectorKit
import CoreConnectors
import ParquetConnector
import PostgresConnector
import Foundation

/// The archive's record: one JSON line per archived partition, appended and fsynced before the
/// partition is dropped. A line cut off by a crash is cut away before the next append.
struct ArchiveManifest {
    struct Entry: Codable, Equatable {
        var partition: String
        var table: String
        /// Relative to the manifest's folder.
        var file: String
        var sha256: String
        var bytes: Int64
        var rows: Int64
        var key: String
        var min: String?
        var max: String?
        var archivedAt: String

        enum CodingKeys: String, CodingKey {
            case partition, table, file, sha256, bytes, rows, key, min, max
            case archivedAt = "archived_at"
        }
    }

    let path: String

    /// Every complete entry.
    func entries() throws -> [Entry] {
        guard let bytes = try FileUtilities.readFile(path) else { return [] }
        return bytes.split(separator: 0x0A).compactMap { try? JSONDecoder().decode(Entry.self, from: Data($0)) }
    }

    /// The last entry of each partition.
    func latestEntries() throws -> [String: Entry] {
        try entries().reduce(into: [:]) { $0[$1.partition] = $1 }
    }

    func append(_ entry: Entry) throws {
        try FileUtilities.makeParentDirectories(of: path)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConnectorError(.io, "cannot open the manifest \(path): \(FileUtilities.errnoText())") }
        defer { close(fd) }
        // Cut a partial last line (a crash in the middle of an append); a whole file ends in a
        // newline, so only that one byte is read.
        var length = lseek(fd, 0, SEEK_END)
        var last: UInt8 = 0x0A
        if length > 0, pread(fd, &last, 1, length - 1) == 1, last != 0x0A {
            let existing = try FileUtilities.readFile(path) ?? []
            let keep = (existing.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
            guard ftruncate(fd, off_t(keep)) == 0 else { throw ConnectorError(.io, "cannot repair the manifest \(path): \(FileUtilities.errnoText())") }
            length = off_t(keep)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = Array(try encoder.encode(entry))
        line.append(0x0A)
        guard lseek(fd, length, SEEK_SET) >= 0 else { throw ConnectorError(.io, "cannot seek in the manifest \(path): \(FileUtilities.errnoText())") }
        try line.withUnsafeBytes { try FileUtilities.writeAll(fd, $0, path: path) }
        guard fsync(fd) == 0 else { throw ConnectorError(.io, "fsync of the manifest \(path) failed: \(FileUtilities.errnoText())") }
    }
}
