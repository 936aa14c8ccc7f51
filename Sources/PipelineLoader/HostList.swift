import ConnectorKit
import Foundation

/// `hosts` (or `hosts_file`) in a pipeline's `[source]`: a hall of machines served by one file.
/// Each host becomes a pipeline of its own (`<name>@<host>`: its own connection, checkpoint,
/// schedule, backoff and status), with `{host}` replaced in every value of the file: by the
/// host's address in the source's `url`, by its name everywhere else.
///
/// ```toml
/// [source]
/// type = "smb"
/// url = "smb://{host}/logs"
/// hosts = ["press-01", "press-02"]
/// # hosts = { press-01 = "10.1.4.21", press-02 = "10.1.4.22:445" }   # name = address
/// # hosts_file = "presses.txt"                          # one "name [address]" per line, # comments
/// ```
struct HostList {
    struct Host: Equatable {
        var name: String
        var address: String
    }

    var hosts: [Host]

    static let placeholder = "{host}"
    static let maxHosts = 1000

    /// The hosts of `root`'s [source], nil when it names none.
    static func read(_ root: ConfigNode, file: String) throws(ConfigErrors) -> HostList? {
        guard let source = root["source"] else { return nil }
        let listed = source["hosts"], fromFile = source["hosts_file"]
        if listed == nil && fromFile == nil { return nil }
        func fail(_ node: ConfigNode?, _ key: String, _ message: String) -> ConfigErrors {
            ConfigErrors(errors: [ConfigError(file: file, line: node?.line ?? source.line, keyPath: "source." + key, message: message)])
        }
        if listed != nil && fromFile != nil { throw fail(fromFile, "hosts_file", "give either hosts or hosts_file, not both") }
        var hosts: [Host] = []
        if let listed {
            switch listed.value {
            case let .array(items):
                for item in items {
                    guard let name = item.stringValue else { throw fail(item, "hosts", "expected host names as strings, found \(item.typeName)") }
                    hosts.append(Host(name: name, address: name))
                }
            case let .table(entries):
                for (name, node) in entries {
                    guard let address = node.stringValue, !address.isEmpty else { throw fail(node, "hosts.\(name)", "expected the host's address as a string") }
                    hosts.append(Host(name: name, address: address))
                }
            default:
                throw fail(listed, "hosts", "expected an array of host names or a table of name = \"address\", found \(listed.typeName)")
            }
        } else if let fromFile {
            guard let relative = fromFile.stringValue else { throw fail(fromFile, "hosts_file", "expected a file name") }
            let path = relative.hasPrefix("/") ? relative : URL(fileURLWithPath: file).deletingLastPathComponent().path + "/" + relative
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail(fromFile, "hosts_file", "cannot read \(path)") }
            for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
                if words.isEmpty { continue }
                guard words.count <= 2 else { throw fail(fromFile, "hosts_file", "\(path):\(i + 1): expected \"name\" or \"name address\", found \"\(line)\"") }
                hosts.append(Host(name: words[0], address: words.count == 2 ? words[1] : words[0]))
            }
        }
        if hosts.isEmpty { throw fail(listed ?? fromFile, listed != nil ? "hosts" : "hosts_file", "names no host") }
        if hosts.count > maxHosts { throw fail(listed ?? fromFile, listed != nil ? "hosts" : "hosts_file", "names \(hosts.count) hosts; at most \(maxHosts)") }
        var seen = Set<String>()
        for h in hosts {
            let plain = h.name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
            if h.name.isEmpty || !plain || h.name.hasPrefix(".") {
                throw fail(listed ?? fromFile, listed != nil ? "hosts" : "hosts_file",
                           "'\(h.name)' is not a valid host name (letters, digits, '-', '_' and '.'; it names the host's state folder)")
            }
            if h.address.contains(where: { $0 == "/" || $0 == "@" || $0 == "\\" || $0 == " " || $0 == "?" || $0 == "#" }) {
                throw fail(listed ?? fromFile, listed != nil ? "hosts" : "hosts_file", "'\(h.address)' is not a host address (host or host:port)")
            }
            if !seen.insert(h.name).inserted { throw fail(listed ?? fromFile, listed != nil ? "hosts" : "hosts_file", "'\(h.name)' is listed twice") }
        }
        // Remote sources name the host in `url`; a local one (files) may read a folder per
        // machine (a mount per PC): `path = "/mnt/{host}/logs"`.
        let where_ = source["url"] != nil ? "url" : "path"
        guard let location = source[where_]?.stringValue, location.contains(placeholder) else {
            throw fail(source[where_], where_, "a pipeline with hosts needs {host} in its \(where_), e.g. \(where_ == "url" ? "\"smb://{host}/logs\"" : "\"/mnt/{host}/logs\"")")
        }
        return HostList(hosts: hosts)
    }

    /// `root` for one host, the host keys gone: `{host}` is the host's address in the source's
    /// `url` and its name everywhere else (output paths, table names, derived values).
    func substituted(_ root: ConfigNode, for host: Host) -> ConfigNode {
        func walk(_ node: ConfigNode) -> ConfigNode {
            var n = node
            switch node.value {
            case let .string(s):
                n.value = .string(s.replacingOccurrences(of: Self.placeholder, with: node.path == ["source", "url"] ? host.address : host.name))
            case let .array(items): n.value = .array(items.map(walk))
            case let .table(entries):
                let isSource = node.path == ["source"]
                n.value = .table(entries.filter { !isSource || ($0.key != "hosts" && $0.key != "hosts_file") }.map { ($0.key, walk($0.node)) })
            default: break
            }
            return n
        }
        return walk(root)
    }

    /// Hosts writing one local file or folder would corrupt it: a file sink needs `{host}` in its
    /// settings. A database sink (postgres) takes every host's rows into one table.
    static func unsharedSink(_ definition: PipelineDefinition, root: ConfigNode) -> ConfigError? {
        let type = definition.sink.descriptor.type
        guard type != "postgres" && type != "discard" else { return nil }
        func mentions(_ node: ConfigNode) -> Bool {
            switch node.value {
            case let .string(s): return s.contains(placeholder)
            case let .array(items): return items.contains(where: mentions)
            case let .table(entries): return entries.contains { mentions($0.node) }
            default: return false
            }
        }
        guard let sink = root["sink"], !mentions(sink) else { return nil }
        return ConfigError(file: definition.file, line: sink.line, keyPath: "sink",
                           message: "every host would write the same \(type) output: put {host} in its path (e.g. \"lake/{host}\"), or load into postgres")
    }
}
