import ConnectorKit
import CoreConnectors
import Foundation
import Logging

/// Dumps each database with `pg_dump --format=custom`, verifies the dump with
/// `pg_restore --list`, moves it into place (fsynced, atomic rename) and prunes older dumps.
///
/// - The password reaches pg_dump through a private pgpass file (0600, removed afterwards),
///   never through its arguments or a logged environment variable.
/// - It refuses to start when the folder's file system has less free space than `min_free_space`
///   or than twice the database's newest dump; a half-written dump never replaces a good one.
public struct PostgresBackupJob: Job {
    let configuration: PostgresBackupJobConfiguration
    let baseDirectory: String

    public init(_ configuration: PostgresBackupJobConfiguration, baseDirectory: String) {
        self.configuration = configuration
        self.baseDirectory = baseDirectory
    }

    struct Target {
        var label: String
        var url: String
        var password: String?
    }

    public func run(context: JobContext) async throws -> JobReport {
        let folder = resolve(configuration.folder)
        try FileUtilities.makeDirectories(folder)
        let targets = try self.targets(context)
        var lines: [JobReport.Line] = []
        for target in targets {
            do {
                lines.append(try await backUp(target, folder: folder, context: context))
            } catch {
                context.logger.error("backup failed", metadata: ["database": "\(target.label)", "error": "\(error)"])
                lines.append(JobReport.Line(target.label, .failed, "\(error)"))
            }
        }
        return JobReport(lines: lines, nothingToDo: "no url and no pipeline with a postgres sink: nothing to back up")
    }

    func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : baseDirectory + "/" + path }

    /// The databases: `url`, or those of the chosen pipelines' postgres sinks, each once.
    func targets(_ context: JobContext) throws -> [Target] {
        if let url = configuration.url {
            let own = PluginBuildContext(pipeline: context.job, configFile: "", baseDirectory: baseDirectory, stateDirectory: context.stateDirectory,
                                         logger: context.logger)
            let password = try PasswordSetting.resolve(configuration.password, file: configuration.passwordFile, context: own, plugin: "postgres_backup")?.value
            return [Target(label: Self.label(url), url: url, password: password)]
        }
        var seen: [String: Target] = [:]
        var order: [String] = []
        for p in context.pipelines where configuration.pipelines?.contains(p.name) ?? true {
            guard let sink = p.sinkConfiguration as? PostgresConfiguration, seen[sink.url] == nil else { continue }
            seen[sink.url] = Target(label: Self.label(sink.url), url: sink.url, password: try sink.resolvedPassword(context: p.buildContext))
            order.append(sink.url)
        }
        var targets = order.map { seen[$0]! }
        // Two servers with a database of the same name: tell their dumps apart by host and port.
        let labels = Dictionary(grouping: targets, by: \.label)
        for i in targets.indices where labels[targets[i].label]!.count > 1 {
            targets[i].label = Self.sanitize(Self.parts(targets[i].url).host + "-" + Self.parts(targets[i].url).port + "-" + targets[i].label)
        }
        return targets
    }

    func backUp(_ target: Target, folder: String, context: JobContext) async throws -> JobReport.Line {
        let existing = dumps(in: folder, label: target.label)
        try checkFreeSpace(folder: folder, newest: existing.max { $0.taken < $1.taken }, label: target.label)
        removeAbandoned(folder: folder, label: target.label)

        let taken = Date()
        let name = BackupRetention.fileName(label: target.label, taken: taken)
        let partial = "\(folder)/.\(name).inprogress"
        let pgpass = try PGPassFile(directory: context.stateDirectory + "/" + context.job, password: target.password)
        defer { pgpass.remove() }
        var environment = ["PGCONNECT_TIMEOUT": "30", "PGAPPNAME": "sluice-backup"]
        if let path = pgpass.path { environment["PGPASSFILE"] = path }
        let started = Date()
        let dump = try await ChildProcess.run(try tool(configuration.pgDump),
                                              ["--format=custom", "--no-password", "--file=\(partial)", "--dbname=\(target.url)"],
                                              environment: environment, keepOutput: false, timeout: configuration.timeout.seconds)
        guard dump.status == 0, !dump.timedOut else {
            try? FileManager.default.removeItem(atPath: partial)
            throw ConnectorError(.io, dump.timedOut ? "pg_dump ran longer than \(configuration.timeout) and was stopped"
                                                    : "pg_dump exited with \(dump.status): \(dump.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // Verify before it counts: pg_restore must read the archive's whole table of contents.
        let list = try await ChildProcess.run(try tool(configuration.pgRestore), ["--list", partial], timeout: 600)
        let toc = String(decoding: list.stdout, as: UTF8.self)
        let tables = toc.split(separator: "\n").filter { !$0.hasPrefix(";") && $0.contains(" TABLE DATA ") }.count
        guard list.status == 0, toc.contains("Archive created at") else {
            try? FileManager.default.removeItem(atPath: partial)
            throw ConnectorError(.io, "the dump does not verify: pg_restore --list exited with \(list.status): \(list.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // A dump holds every row: readable by the daemon's user only, like its state.
        chmod(partial, 0o600)
        try Self.fsync(partial)
        let final = "\(folder)/\(name)"
        guard rename(partial, final) == 0 else { throw ConnectorError(.io, "cannot rename \(partial) to \(final): \(FileUtilities.errnoText())") }
        try FileUtilities.syncDirectory(folder)
        let size = (try? FileManager.default.attributesOfItem(atPath: final)[.size] as? Int64) ?? 0

        let all = existing + [BackupRetention.Dump(file: name, taken: taken)]
        let keep = BackupRetention.keep(all, daily: configuration.keepDaily, monthly: configuration.keepMonthly)
        var removed: [String] = []
        for d in all where !keep.contains(d.file) {
            if unlink("\(folder)/\(d.file)") == 0 { removed.append(d.file) } else {
                context.logger.warning("cannot remove an old dump", metadata: ["file": "\(folder)/\(d.file)", "error": "\(FileUtilities.errnoText())"])
            }
        }
        if !removed.isEmpty { try? FileUtilities.syncDirectory(folder) }
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        context.logger.info("backup written", metadata: ["database": "\(target.label)", "file": "\(final)", "bytes": "\(size)",
                                                         "tables": "\(tables)", "removed": "\(removed.count)"])
        return JobReport.Line(target.label, .done, "\(final) (\(ByteCount.format(size)), \(tables) tables with data, verified with pg_restore --list, \(seconds) s); "
                                  + "\(keep.count) dump(s) kept, \(removed.count) removed")
    }

    func dumps(in folder: String, label: String) -> [BackupRetention.Dump] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { n in BackupRetention.parse(n, label: label).map { BackupRetention.Dump(file: n, taken: $0) } }
    }

    func checkFreeSpace(folder: String, newest: BackupRetention.Dump?, label: String) throws {
        var s = statvfs()
        guard statvfs(folder, &s) == 0 else { throw ConnectorError(.io, "cannot read the free space of \(folder): \(FileUtilities.errnoText())") }
        let free = Int64(s.f_bavail) * Int64(s.f_frsize)
        let last = newest.flatMap { try? FileManager.default.attributesOfItem(atPath: "\(folder)/\($0.file)")[.size] as? Int64 } ?? 0
        let need = max(configuration.minFreeSpace.bytes, 2 * last)
        if free < need {
            throw ConnectorError(.io, "refusing to start: \(ByteCount.format(free)) free in \(folder), at least \(ByteCount.format(need)) needed "
                                 + "(min_free_space \(configuration.minFreeSpace)\(last > 0 ? ", twice the last dump of \(label)" : ""))")
        }
    }

    /// Partial dumps of a run that was killed: they are never read, only in the way.
    func removeAbandoned(folder: String, label: String) {
        for n in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where n.hasPrefix(".\(label)-") && n.hasSuffix(".inprogress") {
            unlink("\(folder)/\(n)")
        }
    }

    func tool(_ name: String) throws -> String {
        if name.contains("/") { return name }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ConnectorError(.configuration, "\(name) not found in PATH (Debian: apt-get install postgresql-client)")
    }

    static func fsync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConnectorError(.io, "cannot open \(path): \(FileUtilities.errnoText())") }
        defer { close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw ConnectorError(.io, "fsync \(path) failed: \(FileUtilities.errnoText())") }
    }

    /// The database's name from a URL or a `key=value` connection string, for file names.
    static func label(_ url: String) -> String { sanitize(parts(url).database) }

    static func parts(_ url: String) -> (host: String, port: String, database: String) {
        if url.contains("://"), let u = URLComponents(string: url) {
            let db = u.path.split(separator: "/").first.map(String.init) ?? u.user ?? "postgres"
            return (u.host ?? "localhost", u.port.map(String.init) ?? "5432", db.removingPercentEncoding ?? db)
        }
        var values: [String: String] = [:]
        for pair in url.split(separator: " ") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { values[String(kv[0])] = String(kv[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
        }
        return (values["host"] ?? "localhost", values["port"] ?? "5432", values["dbname"] ?? values["user"] ?? "postgres")
    }

    static func sanitize(_ s: String) -> String {
        let clean = String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") ? $0 : "_" })
        return clean.isEmpty || clean.hasPrefix(".") ? "db" + clean : clean
    }
}

/// A pgpass file holding one password for this pg_dump only: private (0600) in a private folder,
/// removed when the dump is done. `*:*:*:*:` matches whatever the URL names.
struct PGPassFile {
    let path: String?

    init(directory: String, password: String?) throws {
        guard let password else {
            path = nil
            return
        }
        try FileUtilities.makeDirectories(directory)
        let p = "\(directory)/.pgpass-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var escaped = ""
        for c in password {
            if c == ":" || c == "\\" { escaped.append("\\") }
            escaped.append(c)
        }
        let fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConnectorError(.io, "cannot create \(p): \(FileUtilities.errnoText())") }
        defer { close(fd) }
        let bytes = Array("*:*:*:*:\(escaped)\n".utf8)
        try bytes.withUnsafeBytes { try FileUtilities.writeAll(fd, $0, path: p) }
        path = p
    }

    func remove() { if let path { unlink(path) } }
}
