import ConnectorKit
import CoreConnectors
import Foundation
import Parquet

/// Writes record batches into a folder in Hive layout, `<root>/date=YYYY-MM-DD/part-<seq>.parquet`
/// (or `<root>/part-<seq>.parquet` without a partition column), for one commit at a time.
///
/// Rows go to hidden temporary files (`.inprogress-*.tmp`) as they arrive; `commit(sequence:)`
/// finishes each file, fsyncs it, renames it to its final name and fsyncs the folders, so a final
/// name only ever shows a whole file. `removeUncommitted(above:)` deletes what a commit whose
/// checkpoint never became durable left behind. Owned by one sink (not `Sendable`).
package final class HivePartitionedWriter {
    package static let nullPartition = "__HIVE_DEFAULT_PARTITION__"
    package static let temporaryPrefix = ".inprogress-"

    package let root: String
    package let partitionColumn: String?
    package let options: ParquetWriterOptions
    package let sort: Bool
    package let metadata: [KeyValue]
    /// At most this many files open at once; beyond it the least recently written is finished.
    package let maxOpenFiles: Int

    private struct OpenFile {
        var directory: String
        var temporary: String
        var output: FileOutput
        var writer: ParquetFileWriter
        var lastUsed: Int
    }

    /// Partition folder name → the file being written for it.
    private var open: [String: OpenFile] = [:]
    /// Files finished before the commit (too many open): (folder, temporary path).
    private var finished: [(directory: String, temporary: String)] = []
    /// With `sort`: the rows of each partition since the last commit.
    private var pending: [String: [RecordBatch]] = [:]
    private var clock = 0
    private var schema: Schema?
    private(set) var rowsSinceCommit = 0

    package init(root: String, partitionColumn: String?, options: ParquetWriterOptions, sort: Bool, metadata: [KeyValue] = [], maxOpenFiles: Int = 32) {
        self.root = root
        self.partitionColumn = partitionColumn
        self.options = options
        self.sort = sort
        self.metadata = metadata
        self.maxOpenFiles = maxOpenFiles
    }

    // MARK: Writing

    package func write(_ batch: RecordBatch) throws {
        guard !batch.isEmpty else { return }
        if let schema, schema != batch.schema {
            throw ConnectorError(.configuration, "the Parquet sink got batches of two schemas (\(schema.names) and \(batch.schema.names))")
        }
        schema = batch.schema
        let groups = try partitionRows(batch)
        rowsSinceCommit += batch.count
        for (partition, rows) in groups {
            let columns = rows.count == batch.count ? batch.columns : batch.columns.map { $0.select(rows) }
            if sort {
                pending[partition, default: []].append(RecordBatch(schema: batch.schema, columns: columns, origins: RecordOrigins(file: batch.origins.file)))
            } else {
                try append(columns, rows: rows.count, to: partition)
            }
        }
        if !sort { try boundMemory() }
    }

    /// The rows of `batch` per partition folder name, in order.
    private func partitionRows(_ batch: RecordBatch) throws -> [(String, [Int])] {
        guard let partitionColumn else { return [("", Array(0..<batch.count))] }
        guard let index = batch.schema.index(of: partitionColumn) else {
            throw ConnectorError(.configuration, "partition_by names '\(partitionColumn)', which is not a column (columns: \(batch.schema.names.joined(separator: ", ")))")
        }
        let column = batch.columns[index]
        let days: (Int) -> Int?
        switch column.values {
        case let .date(a): days = { column.isNull($0) ? nil : Int(a[$0]) }
        case let .timestamp(a): days = { column.isNull($0) ? nil : Int(CivilDate.day(ofMicros: a[$0])) }
        default:
            throw ConnectorError(.configuration, "partition_by column '\(partitionColumn)' is \(batch.schema.fields[index].type); it must be a date or timestamp")
        }
        var order: [Int?] = []
        var rowsByDay: [Int?: [Int]] = [:]
        for row in 0..<batch.count {
            let d = days(row)
            if rowsByDay[d] == nil { order.append(d) }
            rowsByDay[d, default: []].append(row)
        }
        return order.map { d in (d.map { "date=" + CivilDate.format(days: Int32($0)) } ?? "date=\(Self.nullPartition)", rowsByDay[d]!) }
    }

    private func append(_ columns: [Column], rows: Int, to partition: String) throws {
        clock += 1
        if open[partition] == nil {
            if open.count >= maxOpenFiles, let oldest = open.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                try finish(oldest)
            }
            open[partition] = try create(partition)
        }
        open[partition]!.lastUsed = clock
        do {
            try open[partition]!.writer.write(columns: columns, rows: 0..<rows)
        } catch {
            throw ConnectorError(.io, "writing \(open[partition]!.temporary): \(error)")
        }
    }

    private func create(_ partition: String) throws -> OpenFile {
        let directory = partition.isEmpty ? root : root + "/" + partition
        try FileUtilities.makeDirectories(directory)
        let temporary = directory + "/" + Self.temporaryPrefix + UUID().uuidString.lowercased() + ".parquet.tmp"
        do {
            let output = try FileOutput(creating: temporary)
            let writer = try ParquetFileWriter(output: output, schema: schema!, options: options)
            return OpenFile(directory: directory, temporary: temporary, output: output, writer: writer, lastUsed: clock)
        } catch {
            throw ConnectorError(.io, "cannot start \(temporary): \(error)")
        }
    }

    /// Keeps buffered row groups of all open files within one row group's size: the fullest is
    /// written out early (a smaller row group) when the total is over.
    private func boundMemory() throws {
        var total = open.values.reduce(0) { $0 + $1.writer.bufferedBytes }
        while total > options.rowGroupBytes, let fullest = open.max(by: { $0.value.writer.bufferedBytes < $1.value.writer.bufferedBytes }) {
            let before = fullest.value.writer.bufferedBytes
            do { try fullest.value.writer.flushRowGroup() } catch { throw ConnectorError(.io, "writing \(fullest.value.temporary): \(error)") }
            total -= before
        }
    }

    /// Writes the footer of `partition`'s file, fsyncs and closes it; it waits for the commit.
    /// `extra` joins the writer's metadata (the commit's input range, when known).
    private func finish(_ partition: String, extra: [KeyValue] = []) throws {
        guard let file = open.removeValue(forKey: partition) else { return }
        do {
            try file.writer.finish(metadata: metadata + extra)
            try file.output.sync()
            try file.output.close()
        } catch {
            unlink(file.temporary)
            throw ConnectorError(.io, "finishing \(file.temporary): \(error)")
        }
        finished.append((file.directory, file.temporary))
    }

    // MARK: Committing

    /// Makes every file written since the last commit durable under its final name, named with
    /// `sequence`; `extra` goes into the footers of the files finished now. Returns the final paths.
    package func commit(sequence: Int64, extra: [KeyValue] = []) throws -> [String] {
        if sort { try writeSorted(extra: extra) }
        for partition in Array(open.keys) { try finish(partition, extra: extra) }
        var finals: [String] = []
        var countInDirectory: [String: Int] = [:]
        var directories = Set<String>()
        for file in finished {
            let k = countInDirectory[file.directory, default: 0]
            countInDirectory[file.directory] = k + 1
            let name = Self.fileName(sequence: sequence, part: k)
            let final = file.directory + "/" + name
            guard rename(file.temporary, final) == 0 else {
                throw ConnectorError(.io, "cannot rename \(file.temporary) to \(final): \(FileUtilities.errnoText())")
            }
            finals.append(final)
            directories.insert(file.directory)
        }
        // New partition folders must be durable in their parent too.
        for directory in directories.sorted() {
            try FileUtilities.syncDirectory(directory)
            if directory != root { try FileUtilities.syncDirectory(root) }
        }
        finished.removeAll()
        rowsSinceCommit = 0
        return finals
    }

    private func writeSorted(extra: [KeyValue]) throws {
        guard let partitionColumn, let schema, let index = schema.index(of: partitionColumn) else {
            // Nothing to sort by: write as they came.
            for (partition, batches) in pending { for b in batches { try append(b.columns, rows: b.count, to: partition) } }
            pending.removeAll()
            return
        }
        for partition in pending.keys.sorted() {
            let batches = pending[partition]!
            let columns = (0..<schema.count).map { c in Column.concatenate(batches.map { $0.columns[c] }) }
            let key = columns[index]
            let rows = key.count
            let order: [Int]
            switch key.values {
            case let .timestamp(a): order = (0..<rows).sorted { (key.isNull($0) ? Int64.max : a[$0], $0) < (key.isNull($1) ? Int64.max : a[$1], $1) }
            case let .date(a): order = (0..<rows).sorted { (key.isNull($0) ? Int32.max : a[$0], $0) < (key.isNull($1) ? Int32.max : a[$1], $1) }
            default: order = Array(0..<rows)
            }
            try append(columns.map { $0.select(order) }, rows: rows, to: partition)
            pending[partition] = nil
            try finish(partition, extra: extra)
        }
    }

    /// Closes and deletes everything written since the last commit.
    package func abandon() {
        for file in open.values {
            try? file.output.close()
            unlink(file.temporary)
        }
        for file in finished { unlink(file.temporary) }
        open.removeAll()
        finished.removeAll()
        pending.removeAll()
        rowsSinceCommit = 0
    }

    // MARK: Names and recovery

    /// `part-00000042.parquet`, then `part-00000042-1.parquet`, … for more files of one commit in
    /// one folder.
    package static func fileName(sequence: Int64, part: Int) -> String {
        let digits = String(sequence)
        let padded = String(repeating: "0", count: max(0, 8 - digits.count)) + digits
        return part == 0 ? "part-\(padded).parquet" : "part-\(padded)-\(part).parquet"
    }

    /// The commit sequence a final file name carries, or nil for other names.
    package static func sequence(ofFileName name: String) -> Int64? {
        guard name.hasPrefix("part-"), name.hasSuffix(".parquet") else { return nil }
        let core = name.dropFirst("part-".count).dropLast(".parquet".count)
        let digits = core.split(separator: "-", maxSplits: 1).first ?? ""
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int64(digits)
    }

    /// Deletes temporary files and final files named with a sequence above `committed` anywhere
    /// under `root`: a crash left them between the rename and the checkpoint. Returns what it removed.
    package static func removeUncommitted(root: String, above committed: Int64) throws -> [String] {
        var removed: [String] = []
        var directories = Set<String>()
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            let remove = (name.hasPrefix(temporaryPrefix) && name.hasSuffix(".tmp")) || (sequence(ofFileName: name).map { $0 > committed } ?? false)
            guard remove else { continue }
            let path = root + "/" + relative
            guard unlink(path) == 0 else { throw ConnectorError(.io, "cannot remove uncommitted \(path): \(FileUtilities.errnoText())") }
            removed.append(path)
            directories.insert((path as NSString).deletingLastPathComponent)
        }
        for d in directories { try FileUtilities.syncDirectory(d) }
        return removed
    }
}
