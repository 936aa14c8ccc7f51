import ConnectorKit
import TOMLKit

/// Parses a pipeline file into a `ConfigNode` tree with lines, written key order and `${VAR}`
/// values expanded.
final class TOMLConversion {
    let file: String
    let locator: TOMLKeyLocator
    let environment: [String: String]
    /// Unset `${VAR}`s: collected rather than thrown so that one run reports every mistake.
    private(set) var errors: [ConfigError] = []

    init(file: String, locator: TOMLKeyLocator, environment: [String: String]) {
        self.file = file
        self.locator = locator
        self.environment = environment
    }

    static func parse(_ text: String, file: String, environment: [String: String]) throws(ConfigError) -> ConfigNode {
        let (node, errors) = try parseCollecting(text, file: file, environment: environment)
        if let first = errors.first { throw first }
        return node
    }

    static func parseCollecting(_ text: String, file: String, environment: [String: String]) throws(ConfigError) -> (ConfigNode, [ConfigError]) {
        let locator = TOMLKeyLocator(text)
        if let line = locator.namelessHeaderLine {
            throw ConfigError(file: file, line: line, keyPath: "", message: "TOML syntax error: a table header needs a name, as in [source] or [[transform]]")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw ConfigError(file: file, line: e.source.begin.line, keyPath: "", message: "TOML syntax error: \(e.description) (column \(e.source.begin.column))")
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "TOML syntax error: \(error)")
        }
        let conversion = TOMLConversion(file: file, locator: locator, environment: environment)
        let node = conversion.node(table.tomlValue, path: [])
        return (node, conversion.errors)
    }

    private func node(_ v: any TOMLValueConvertible, path: [String]) -> ConfigNode {
        let line = locator.line(of: path) ?? (path.isEmpty ? nil : locator.line(of: Array(path.dropLast())))
        switch v.type {
        case .table:
            let t = v.table!
            let keys = t.keys.sorted { a, b in
                let oa = locator.order(of: path + [a]) ?? Int.max, ob = locator.order(of: path + [b]) ?? Int.max
                return oa == ob ? a < b : oa < ob
            }
            var entries: [(key: String, node: ConfigNode)] = []
            for k in keys { entries.append((k, node(t[k]!, path: path + [k]))) }
            return ConfigNode(.table(entries), line: line, path: path)
        case .array:
            var items: [ConfigNode] = []
            for (i, item) in v.array!.enumerated() { items.append(node(item, path: path + [String(i)])) }
            return ConfigNode(.array(items), line: line, path: path)
        case .string:
            let raw = v.string!
            do {
                return ConfigNode(.string(try EnvironmentExpansion.expand(raw, environment: environment)), line: line, path: path)
            } catch {
                errors.append(ConfigError(file: file, line: line, keyPath: ConfigNode.render(path),
                                          message: "environment variable \(error.name) is not set (referenced as ${\(error.name)})"))
                return ConfigNode(.string(raw), line: line, path: path)
            }
        case .int: return ConfigNode(.integer(v.int!), line: line, path: path)
        case .double: return ConfigNode(.float(v.double!), line: line, path: path)
        case .bool: return ConfigNode(.bool(v.bool!), line: line, path: path)
        case .date: return ConfigNode(.datetime(v.date!.debugDescription), line: line, path: path)
        case .time: return ConfigNode(.datetime(v.time!.debugDescription), line: line, path: path)
        case .dateTime: return ConfigNode(.datetime(v.dateTime!.debugDescription), line: line, path: path)
        }
    }
}

/// Parses a TOML fragment (a plugin sample) into a `ConfigNode`, for tests and `sluice sample`.
public enum TOMLSample {
    public static func parse(_ text: String, environment: [String: String] = [:]) throws -> ConfigNode {
        try TOMLConversion.parse(text, file: "sample", environment: environment)
    }
}
