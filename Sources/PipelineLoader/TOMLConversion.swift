import ConnectorKit
import TOMLKit

/// Parses a pipeline file into a `ConfigNode` tree with lines, written key order and `${VAR}`
/// values expanded.
struct TOMLConversion {
    let file: String
    let locator: TOMLKeyLocator
    let environment: [String: String]

    static func parse(_ text: String, file: String, environment: [String: String]) throws(ConfigError) -> ConfigNode {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw ConfigError(file: file, line: e.source.begin.line, keyPath: "", message: "TOML syntax error: \(e.description) (column \(e.source.begin.column))")
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "TOML syntax error: \(error)")
        }
        let conversion = TOMLConversion(file: file, locator: TOMLKeyLocator(text), environment: environment)
        return try conversion.node(table.tomlValue, path: [])
    }

    private func node(_ v: any TOMLValueConvertible, path: [String]) throws(ConfigError) -> ConfigNode {
        let line = locator.line(of: path) ?? (path.isEmpty ? nil : locator.line(of: Array(path.dropLast())))
        switch v.type {
        case .table:
            let t = v.table!
            let keys = t.keys.sorted { a, b in
                let oa = locator.order(of: path + [a]) ?? Int.max, ob = locator.order(of: path + [b]) ?? Int.max
                return oa == ob ? a < b : oa < ob
            }
            var entries: [(key: String, node: ConfigNode)] = []
            for k in keys { entries.append((k, try node(t[k]!, path: path + [k]))) }
            return ConfigNode(.table(entries), line: line, path: path)
        case .array:
            var items: [ConfigNode] = []
            for (i, item) in v.array!.enumerated() { items.append(try node(item, path: path + [String(i)])) }
            return ConfigNode(.array(items), line: line, path: path)
        case .string:
            let raw = v.string!
            do {
                return ConfigNode(.string(try EnvironmentExpansion.expand(raw, environment: environment)), line: line, path: path)
            } catch {
                throw ConfigError(file: file, line: line, keyPath: ConfigNode.render(path),
                                  message: "environment variable \(error.name) is not set (referenced as ${\(error.name)})")
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
