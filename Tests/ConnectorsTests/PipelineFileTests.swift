import ConnectorKit
@testable import Connectors
import Foundation
import PipelineLoader
import Testing
import TestSupport

@Suite(.blockingWork) struct PipelineFileTests {
    let loader = PipelineFileLoader(registry: BuiltinPlugins.registry, environment: ["PLANT_DIR": "/srv/plant"])

    func errors(_ text: String) -> [ConfigError] {
        do {
            _ = try loader.load(text: text, file: "p.toml")
            return []
        } catch {
            return error.errors
        }
    }

    let valid = """
        [pipeline]
        schedule = "every 30s"

        [source]
        type = "files"
        path = "${PLANT_DIR}/in"
        glob = "*.csv"

        [[transform]]
        type = "csv"
        delimiter = ";"

        [[transform]]
        type = "schema"
        [transform.columns]
        b = "int64"
        a = { type = "timestamp", format = "dd/MM/yyyy HH:mm:ss" }

        [sink]
        type = "jsonl"
        path = "out.jsonl"
        """

    @Test func validFileLoadsWithColumnsInWrittenOrder() throws {
        let p = try loader.load(text: valid, file: "/etc/sluice/connectors.d/press-01.toml")
        #expect(p.name == "press-01")
        #expect(p.settings.schedule == .every(30))
        #expect((p.source.configuration as? FilesConfiguration)?.path == "/srv/plant/in")
        let schema = try #require(p.transforms[1].configuration as? SchemaConfiguration)
        #expect(schema.columns.map(\.name) == ["b", "a"])
    }

    /// A Parquet sink proposes few large commits; `commit_rows`/`commit_interval` in the file win.
    @Test func sinkProposesTheCommitPolicyUnlessTheFileSetsOne() throws {
        let parquet = valid.replacingOccurrences(of: "type = \"jsonl\"\npath = \"out.jsonl\"",
                                                 with: "type = \"parquet\"\npath = \"/tmp/lake\"\nfile_rows = 300000\nfile_interval = \"10m\"")
        let proposed = try loader.load(text: parquet, file: "/tmp/p.toml").build(stateDirectory: "/tmp/state", logger: .init(label: "t"))
        #expect(proposed.commitRows == 300_000 && proposed.commitSeconds == 600)
        let explicit = try loader.load(text: parquet.replacingOccurrences(of: "schedule = \"every 30s\"", with: "schedule = \"every 30s\"\ncommit_rows = 1000"),
                                       file: "/tmp/p.toml").build(stateDirectory: "/tmp/state", logger: .init(label: "t"))
        #expect(explicit.commitRows == 1000 && explicit.commitSeconds == 600)
        let jsonl = try loader.load(text: valid, file: "/tmp/p.toml").build(stateDirectory: "/tmp/state", logger: .init(label: "t"))
        #expect(jsonl.commitRows == CommitPolicy.standard.rows && jsonl.commitSeconds == CommitPolicy.standard.seconds)
    }

    @Test func unknownType() {
        let e = errors(valid.replacingOccurrences(of: "type = \"jsonl\"", with: "type = \"jsnl\""))
        #expect(e.count == 1)
        #expect(e[0].line == 20)
        #expect(e[0].keyPath == "sink.type")
        #expect(e[0].message.hasPrefix("unknown sink type 'jsnl'; did you mean 'jsonl'?"))
    }

    @Test func unknownKeyWithDidYouMean() {
        let e = errors(valid.replacingOccurrences(of: "glob = ", with: "glop = "))
        #expect(e.map(\.description) == ["p.toml:7: source.glop: unknown key 'glop'; did you mean 'glob'?"])
    }

    @Test func wrongValueType() {
        let e = errors(valid.replacingOccurrences(of: "delimiter = \";\"", with: "delimiter = 5"))
        #expect(e.count == 1)
        #expect(e[0].line == 11)
        #expect(e[0].keyPath == "transform[0].delimiter")
        #expect(e[0].message == "expected a string, found an integer 5")
    }

    /// `timezone` applies to a cron schedule; `after` without a schedule runs only after its upstream.
    @Test func timezoneAndAfter() throws {
        let cron = try loader.load(text: valid.replacingOccurrences(of: "schedule = \"every 30s\"", with: "schedule = \"@daily\"\ntimezone = \"America/Sao_Paulo\""), file: "p.toml")
        guard case let .cron(c) = cron.settings.schedule else { Issue.record("not cron"); return }
        #expect(c.timeZone.identifier == "America/Sao_Paulo")
        let after = try loader.load(text: valid.replacingOccurrences(of: "schedule = \"every 30s\"", with: "after = [\"vehicles\"]"), file: "p.toml")
        #expect(after.settings.after == ["vehicles"] && after.settings.schedule == .manual)
        let e = errors(valid.replacingOccurrences(of: "schedule = \"every 30s\"", with: "schedule = \"@daily\"\ntimezone = \"Mars/Olympus\""))
        #expect(e.first?.keyPath == "pipeline.timezone" && e.first?.message.contains("Mars/Olympus") == true, "\(e)")
    }

    /// A mistake inside `[pipeline.on_failure]` is named by its full key.
    @Test func alertSettingsErrorsNameTheNestedKey() {
        let e = errors(valid.replacingOccurrences(of: "schedule = \"every 30s\"", with: "schedule = \"every 30s\"\n[pipeline.on_failure]\nwebhook = \"mailto:ops\""))
        #expect(e.first?.keyPath == "pipeline.on_failure.webhook", "\(e)")
        #expect(e.first?.message.contains("http://") == true, "\(e)")
    }

    /// Field positions are 32-bit: a record may not be larger than 64 MiB.
    @Test func recordLimitIsBounded() {
        let e = errors(valid.replacingOccurrences(of: "delimiter = \";\"", with: "delimiter = \";\"\nmax_record_bytes = 67108865"))
        #expect(e.count == 1)
        #expect(e.first?.keyPath == "transform[0].max_record_bytes")
        #expect(e.first?.message.contains("at most 67108864") == true)
        #expect(errors(valid.replacingOccurrences(of: "delimiter = \";\"", with: "delimiter = \";\"\nmax_record_bytes = 67108864")).isEmpty)
    }

    @Test func missingRequiredKey() {
        let e = errors(valid.replacingOccurrences(of: "path = \"out.jsonl\"", with: ""))
        #expect(e.count == 1)
        #expect(e[0].keyPath == "sink.path")
        #expect(e[0].message == "missing required key 'path'")
        #expect(e[0].line == 19)
    }

    @Test func unsetEnvironmentVariable() {
        let e = errors(valid.replacingOccurrences(of: "${PLANT_DIR}", with: "${NOT_SET_ANYWHERE}"))
        #expect(e.map(\.description) == ["p.toml:6: source.path: environment variable NOT_SET_ANYWHERE is not set (referenced as ${NOT_SET_ANYWHERE})"])
    }

    @Test func badTypeNameAndFormatInColumns() {
        let e = errors(valid.replacingOccurrences(of: "b = \"int64\"", with: "b = \"integer64\""))
        #expect(e.count == 1)
        #expect(e[0].line == 16)
        #expect(e[0].keyPath == "transform[1].columns.b")
        #expect(e[0].message.hasPrefix("expected a type (bool, int32"))
        let f = errors(valid.replacingOccurrences(of: "dd/MM/yyyy HH:mm:ss", with: "dd/MM/yyy"))
        #expect(f.first?.keyPath == "transform[1].columns.a.format")
        #expect(f.first?.line == 17)
    }

    @Test func syntaxErrorHasLine() {
        let e = errors("[source]\ntype = \"files\"\npath = \n")
        #expect(e.count == 1)
        #expect(e[0].line == 3)
        #expect(e[0].message.hasPrefix("TOML syntax error"))
    }

    @Test func decoderIsRequiredForFileSources() {
        let text = valid.replacingOccurrences(of: "type = \"csv\"\ndelimiter = \";\"", with: "type = \"schema\"\nkeep_other_columns = true")
        let e = errors(text)
        #expect(e.contains { $0.message.contains("the first [[transform]] must be a decoder") })
    }

    @Test func jobFilesAreCheckedAgainstTheirDirectory() throws {
        let dir = NSTemporaryDirectory() + "sluice-jobs-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try valid.write(toFile: "\(dir)/press.toml", atomically: true, encoding: .utf8)
        try """
            [pipeline]
            schedule = "30 23 * * *"
            [job]
            type = "postgres_partitions"
            pipelines = ["prees", "press"]
            premake = 7
            """.write(toFile: "\(dir)/nightly.toml", atomically: true, encoding: .utf8)
        try """
            [job]
            type = "postgres_partition"
            [sink]
            type = "jsonl"
            """.write(toFile: "\(dir)/broken.toml", atomically: true, encoding: .utf8)
        let (pipelines, jobs, errors) = PipelineFileLoader(registry: BuiltinPlugins.registry, environment: ["PLANT_DIR": "/srv"]).loadDirectory(dir)
        #expect(pipelines.map(\.name) == ["press"])
        #expect(jobs.map(\.name) == ["nightly"])
        #expect(jobs.first?.settings.schedule.description == "cron 30 23 * * * (\(TimeZone.current.identifier))")
        let text = errors.map(\.description)
        #expect(text.contains { $0.contains("broken.toml:2: job.type: unknown job type 'postgres_partition'; did you mean 'postgres_partitions'?") }, "\(text)")
        #expect(text.contains { $0.contains("broken.toml:3: sink: a job file ([job]) has no [sink]") }, "\(text)")
        #expect(text.contains { $0.contains("nightly.toml:3: job.pipelines: names 'prees', which is not a valid pipeline of this directory; did you mean 'press'?") }, "\(text)")
        #expect(text.contains { $0.contains("pipeline 'press'") && $0.contains("has no partitioned postgres sink") }, "\(text)")
    }

    @Test func shippedPipelinesAndExamplesValidate() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        // examples/custom-connector's pipelines need its own plugins: its tests validate them.
        for dir in ["\(root)/connectors.d"] {
            let (pipelines, _, errs) = PipelineFileLoader(registry: BuiltinPlugins.registry, environment: [:]).loadDirectory(dir)
            #expect(errs.isEmpty, "\(errs)")
            #expect(!pipelines.isEmpty)
        }
    }
}

@Suite(.blockingWork) struct ConventionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func everyConnectorFolderIsRegisteredDocumentedAndHasAValidSample() throws {
        let connectors = "\(Self.root)/Sources/Connectors"
        let folders = try FileManager.default.contentsOfDirectory(atPath: connectors).filter { name in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(connectors)/\(name)", isDirectory: &isDir) && isDir.boolValue && name != "Codecs"
        }
        let registry = BuiltinPlugins.registry
        for folder in folders {
            let readme = "\(connectors)/\(folder)/README.md"
            #expect(FileManager.default.fileExists(atPath: readme), "\(folder) has no README.md")
            let text = (try? String(contentsOfFile: readme, encoding: .utf8)) ?? ""
            let registered = registry.descriptors.filter { folder.lowercased() == $0.type || text.contains("type = \"\($0.type)\"") }
            #expect(!registered.isEmpty, "folder \(folder) has no plugin in BuiltinPlugins")
            for d in registered where folder.lowercased() == d.type {
                #expect(text.contains(d.sample), "the README of \(folder) must show the sample of '\(d.type)' verbatim")
            }
        }
        for d in registry.descriptors {
            let header = switch d.kind {
            case .source: "[source]"
            case .sink: "[sink]"
            case .job: "[job]"
            default: "[[transform]]"
            }
            let toml = "\(header)\n\(d.sample)\n"
            let root = try #require(try? parseSample(toml))
            let node = d.kind == .source ? root["source"] : d.kind == .sink ? root["sink"] : d.kind == .job ? root["job"] : root["transform"].flatMap { n -> ConfigNode? in
                if case let .array(items) = n.value { return items.first }
                return nil
            }
            _ = try d.configure(try #require(node), file: "sample of \(d.type)")
        }
    }

    func parseSample(_ text: String) throws -> ConfigNode {
        // Reuse the loader's TOML path by wrapping the sample in a throwaway pipeline check.
        // Samples name secrets through ${VAR}: give every referenced variable a value.
        let names = text.split(separator: "${").dropFirst().compactMap { $0.split(separator: "}").first.map(String.init) }
        return try TOMLSample.parse(text, environment: Dictionary(names.map { ($0, "example") }, uniquingKeysWith: { a, _ in a }))
    }
}
