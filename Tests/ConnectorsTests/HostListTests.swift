import ConnectorKit
@testable import Connectors
import Foundation
import PipelineLoader
import Testing
import TestSupport

/// `hosts` in [source]: one pipeline per host, `{host}` the address in the url and the name
/// elsewhere, and the mistakes a hall's file can hold, each named by file, line and key.
@Suite(.blockingWork) struct HostListTests {
    let loader = PipelineFileLoader(registry: BuiltinPlugins.registry, environment: [:])

    func file(source: String, sink: String = "type = \"postgres\"\nurl = \"postgresql://etl@db/plant\"\ntable = \"press\"", derive: Bool = true) -> String {
        """
        [pipeline]
        name = "hall"
        schedule = "every 30s"

        [source]
        \(source)

        [[transform]]
        type = "csv"

        [[transform]]
        type = "schema"
        [transform.columns]
        a = "int64"
        \(derive ? "[transform.derive]\npress = \"host\"" : "")

        [sink]
        \(sink)
        """
    }

    func load(_ text: String, in dir: String? = nil) throws(ConfigErrors) -> PipelineFileLoader.LoadedFile {
        try loader.loadAny(text: text, file: (dir ?? "/etc/sluice/connectors.d") + "/hall.toml")
    }

    func errors(_ text: String) -> [ConfigError] {
        do { _ = try load(text); return [] } catch { return error.errors }
    }

    @Test func listAndTableFormsMakeOnePipelinePerHost() throws {
        guard case let .hosts(name, members) = try load(file(source: """
            type = "smb"
            url = "smb://{host}/logs/xp"
            hosts = { press-01 = "10.1.4.21", press-02 = "10.1.4.22:4450" }
            protocols = "NT1"
            guest = true
            """)) else { Issue.record("not a host group"); return }
        #expect(name == "hall")
        #expect(members.map(\.name) == ["hall@press-01", "hall@press-02"])
        #expect(members.map(\.host) == ["press-01", "press-02"])
        #expect(members.allSatisfy { $0.group == "hall" })
        #expect((members[1].source.configuration as? SMBConfiguration)?.url == "smb://10.1.4.22:4450/logs/xp")

        guard case let .hosts(_, sftp) = try load(file(source: """
            type = "sftp"
            url = "sftp://etl@{host}/var/log/line"
            hosts = ["line-01", "line-02", "line-03"]
            private_key = "/etc/sluice/id_ed25519"
            """, sink: "type = \"jsonl\"\npath = \"/srv/out/{host}.jsonl\"")) else { Issue.record("not a host group"); return }
        #expect(sftp.map { ($0.source.configuration as? SFTPConfiguration)?.url } == ["sftp://etl@line-01/var/log/line", "sftp://etl@line-02/var/log/line", "sftp://etl@line-03/var/log/line"])
        #expect((sftp[2].sink.configuration as? JSONLConfiguration)?.path == "/srv/out/line-03.jsonl", "elsewhere {host} is the name")
    }

    @Test func hostsFileHoldsNamesAndAddresses() throws {
        let dir = NSTemporaryDirectory() + "sluice-hosts-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# the press hall\npress-01 10.1.4.21\n\npress-02   # DNS knows it\n".write(toFile: dir + "/presses.txt", atomically: false, encoding: .utf8)
        guard case let .hosts(_, members) = try load(file(source: """
            type = "smb"
            url = "smb://{host}/logs"
            hosts_file = "presses.txt"
            guest = true
            """), in: dir) else { Issue.record("not a host group"); return }
        #expect(members.map { ($0.source.configuration as? SMBConfiguration)?.url } == ["smb://10.1.4.21/logs", "smb://press-02/logs"])
    }

    @Test(arguments: [
        ("type = \"smb\"\nurl = \"smb://press/logs\"\nhosts = [\"a\", \"b\"]\nguest = true", "source.url", "{host}"),
        ("type = \"smb\"\nurl = \"smb://{host}/logs\"\nhosts = [\"a\", \"a\"]\nguest = true", "source.hosts", "listed twice"),
        ("type = \"smb\"\nurl = \"smb://{host}/logs\"\nhosts = [\"a/b\"]\nguest = true", "source.hosts", "not a valid host name"),
        ("type = \"smb\"\nurl = \"smb://{host}/logs\"\nhosts = []\nguest = true", "source.hosts", "names no host"),
        ("type = \"smb\"\nurl = \"smb://{host}/logs\"\nhosts = [\"a\"]\nhosts_file = \"x\"\nguest = true", "source.hosts_file", "not both"),
        ("type = \"smb\"\nurl = \"smb://{host}/logs\"\nhosts = { a = \"10.0.0.1/x\" }\nguest = true", "source.hosts", "not a host address"),
        ("type = \"smb\"\nurl = \"smb://{host}/logs\"\nhosts_file = \"missing.txt\"\nguest = true", "source.hosts_file", "cannot read"),
    ])
    func mistakesAreNamed(source: String, key: String, message: String) {
        let e = errors(file(source: source))
        #expect(e.first?.keyPath == key, "\(e)")
        #expect(e.first?.message.contains(message) == true, "\(e)")
        #expect(e.first?.line != nil, "\(e)")
    }

    @Test func fileSinksMustNameTheHost() {
        let e = errors(file(source: "type = \"smb\"\nurl = \"smb://{host}/logs\"\nhosts = [\"a\", \"b\"]\nguest = true",
                            sink: "type = \"jsonl\"\npath = \"/srv/out.jsonl\""))
        #expect(e.first?.keyPath == "sink" && e.first?.message.contains("{host}") == true, "\(e)")
    }

    @Test func deriveHostNeedsHosts() {
        let e = errors(file(source: "type = \"files\"\npath = \"/srv/in\""))
        #expect(e.first?.keyPath == "transform[1].derive.press" && e.first?.message.contains("hosts") == true, "\(e)")
        #expect(e.first?.line == 17, "\(e)")
    }

    /// `after` and jobs name the pipeline; the daemon expands it to every host.
    @Test func directoryKnowsTheGroupByItsName() throws {
        let dir = NSTemporaryDirectory() + "sluice-hall-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try file(source: "type = \"files\"\npath = \"/srv/{host}\"\nhosts = [\"a\", \"b\"]").write(toFile: dir + "/hall.toml", atomically: false, encoding: .utf8)
        try "[pipeline]\nname = \"hall\"\n[job]\ntype = \"postgres_partitions\"\n".write(toFile: dir + "/zz-clash.toml", atomically: false, encoding: .utf8)
        try "[pipeline]\nschedule = \"@daily\"\n[job]\ntype = \"postgres_archive\"\npipeline = \"hall\"\nolder_than = \"90d\"\npath = \"/srv/archive\"\n"
            .write(toFile: dir + "/archive.toml", atomically: false, encoding: .utf8)
        let (pipelines, jobs, errors) = loader.loadDirectory(dir)
        #expect(pipelines.map(\.name).sorted() == ["hall@a", "hall@b"])
        #expect(jobs.map(\.name) == ["archive"], "the job names the group: \(errors)")
        #expect(errors.contains { $0.message.contains("'hall' is also used by") }, "\(errors)")
    }
}

extension HostListTests {
    /// `sluice validate` and the daemon see the same thing: an `after` naming nothing in the
    /// folder is an error of that file, and its pipeline is left out.
    @Test func unknownUpstreamIsAnErrorOfItsFile() throws {
        let dir = NSTemporaryDirectory() + "sluice-after-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pipeline = { (name: String, after: String) in
            "[pipeline]\nname = \"\(name)\"\nafter = [\"\(after)\"]\n[source]\ntype = \"files\"\npath = \"/srv\"\n[[transform]]\ntype = \"csv\"\n[sink]\ntype = \"jsonl\"\npath = \"/srv/\(name).jsonl\"\n"
        }
        try pipeline("vehicles-copy", "vehicels").write(toFile: dir + "/copy.toml", atomically: false, encoding: .utf8)
        try pipeline("vehicles", "hall").write(toFile: dir + "/vehicles.toml", atomically: false, encoding: .utf8)
        try file(source: "type = \"files\"\npath = \"/srv/{host}\"\nhosts = [\"a\", \"b\"]").write(toFile: dir + "/hall.toml", atomically: false, encoding: .utf8)
        let (pipelines, _, errors) = loader.loadDirectory(dir)
        #expect(Set(pipelines.map(\.name)) == ["vehicles", "hall@a", "hall@b"], "after = [\"hall\"] names the multi-host pipeline")
        #expect(errors.count == 1)
        #expect(errors.first?.file == dir + "/copy.toml" && errors.first?.keyPath == "pipeline.after", "\(errors)")
        #expect(errors.first?.message.contains("'vehicels'") == true && errors.first?.message.contains("did you mean 'vehicles'") == true, "\(errors)")
    }
}

/// Plugins from outside packages join the built-in ones; a name already taken where it would be
/// written is an error that says so, not a crash.
@Suite(.blockingWork) struct PluginRegistryTests {
    @Test func outsidePluginsJoinAndDuplicatesAreErrors() throws {
        let builtins = BuiltinPlugins.registry
        let extra = PluginDescriptor.sink("plc-log", DiscardConfiguration.self, summary: "a package's own sink") { _, _ in DiscardSink() }
        let bigger = try builtins.adding([extra])
        #expect(bigger.descriptor(kind: .sink, type: "plc-log") != nil)
        #expect(bigger.descriptors.count == builtins.descriptors.count + 1)
        // The same name as a built-in sink.
        let clash = PluginDescriptor.sink("postgres", DiscardConfiguration.self, summary: "another postgres") { _, _ in DiscardSink() }
        #expect(throws: DuplicatePluginError.self) { try builtins.adding([clash]) }
        // A transform named like a decoder: both are written [[transform]].
        let transform = PluginDescriptor.transform("csv", DiscardConfiguration.self, summary: "not the CSV decoder") { _, _ in
            throw ConnectorError(.configuration, "unused")
        }
        do {
            _ = try builtins.adding([transform])
            Issue.record("a transform named csv was accepted beside the csv decoder")
        } catch {
            #expect(error.description == "a decoder plugin named 'csv' is already registered; the transform 'csv' needs another name")
        }
        // A source may share a sink's name: they are written in different places.
        let source = PluginDescriptor.source("discard", DiscardConfiguration.self, summary: "reads nothing") { _, _ in
            throw ConnectorError(.configuration, "unused")
        }
        #expect(try builtins.adding([source]).descriptor(kind: .source, type: "discard") != nil)
    }
}
