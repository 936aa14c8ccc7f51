/// Decodes `Decodable` configuration types from a `ConfigNode`, rejecting keys the type does not
/// read (with a did-you-mean) and reporting each mistake with file, line and key path.
public struct ConfigDecoding {
    public let file: String
    /// Keys every table may carry without the type reading them (e.g. a plugin's `type`).
    public var ignoredKeys: Set<String>

    public init(file: String, ignoredKeys: Set<String> = []) {
        self.file = file
        self.ignoredKeys = ignoredKeys
    }

    public func decode<T: Decodable>(_ type: T.Type, from node: ConfigNode) throws(ConfigError) -> T {
        let state = DecodingState()
        let value: T
        do {
            value = try T(from: NodeDecoder(node: node, state: state))
        } catch let e as ConfigError {
            throw e
        } catch let e as ConfigIssue {
            throw error(at: node, relative: e.key, e.message)
        } catch let e as DecodingError {
            throw translate(e, root: node)
        } catch {
            throw ConfigError(file: file, line: node.line, keyPath: ConfigNode.render(node.path), message: "\(error)")
        }
        if let unknown = firstUnknownKey(state: state, root: node) { throw unknown }
        return value
    }

    /// A `ConfigError` for a key below `node`, with the best line known.
    public func error(at node: ConfigNode, relative: [String], _ message: String) -> ConfigError {
        var target = node
        for k in relative {
            guard let child = target[k] else { break }
            target = child
        }
        return ConfigError(file: file, line: target.line ?? node.line, keyPath: ConfigNode.render(node.path + relative), message: message)
    }

    private func firstUnknownKey(state: DecodingState, root: ConfigNode) -> ConfigError? {
        for (pathKey, table) in state.openedTables {
            let requested = state.requested[pathKey] ?? []
            for (key, child) in table.entries where !requested.contains(key) && !ignoredKeys.contains(key) {
                var message = "unknown key '\(key)'"
                if let guess = Suggest.closest(to: key, among: Array(requested)) { message += "; did you mean '\(guess)'?" }
                else if !requested.isEmpty { message += "; known keys: \(requested.sorted().joined(separator: ", "))" }
                return ConfigError(file: file, line: child.line ?? table.line, keyPath: ConfigNode.render(child.path), message: message)
            }
        }
        return nil
    }

    private func translate(_ e: DecodingError, root: ConfigNode) -> ConfigError {
        func locate(_ codingPath: [any CodingKey]) -> ConfigNode {
            var node = root
            // Paths from NodeDecoder are absolute; those from synthesized code may be relative.
            var keys = codingPath.map { $0.intValue.map { String($0) } ?? $0.stringValue }
            if keys.starts(with: root.path) { keys.removeFirst(root.path.count) }
            for key in keys {
                if case let .array(items) = node.value, let i = Int(key), i < items.count { node = items[i]; continue }
                guard let child = node[key] else { break }
                node = child
            }
            return node
        }
        switch e {
        case let .dataCorrupted(ctx):
            let n = locate(ctx.codingPath)
            return ConfigError(file: file, line: n.line, keyPath: ConfigNode.render(n.path), message: ctx.debugDescription)
        case let .keyNotFound(key, ctx):
            let n = locate(ctx.codingPath)
            return ConfigError(file: file, line: n.line, keyPath: ConfigNode.render(n.path + [key.stringValue]), message: "missing required key '\(key.stringValue)'")
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx):
            let n = locate(ctx.codingPath)
            return ConfigError(file: file, line: n.line, keyPath: ConfigNode.render(n.path), message: ctx.debugDescription)
        @unknown default:
            return ConfigError(file: file, line: root.line, keyPath: ConfigNode.render(root.path), message: "\(e)")
        }
    }
}

/// Did-you-mean suggestions by edit distance.
public enum Suggest {
    public static func closest(to word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, word.count / 3) else { return nil }
        return best.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}

/// Tables opened by the decoder and the keys read from each, to find unknown keys afterwards.
final class DecodingState {
    struct Table { var entries: [(key: String, node: ConfigNode)]; var line: Int? }
    var openedTables: [(String, Table)] = []
    var requested: [String: Set<String>] = [:]

    func open(_ node: ConfigNode, entries: [(key: String, node: ConfigNode)]) {
        let key = node.path.joined(separator: "\u{1}")
        if requested[key] == nil {
            requested[key] = []
            openedTables.append((key, Table(entries: entries, line: node.line)))
        }
    }

    func request(_ node: ConfigNode, _ key: String) {
        requested[node.path.joined(separator: "\u{1}"), default: []].insert(key)
    }
}

struct NodeDecoder: Decoder {
    let node: ConfigNode
    let state: DecodingState
    var codingPath: [any CodingKey] { node.path.map { AnyKey($0) } }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(node.typeName)\(node.valuePreview)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case let .table(entries) = node.value else { throw mismatch("a table") }
        state.open(node, entries: entries)
        return KeyedDecodingContainer(KeyedNodeContainer<Key>(node: node, entries: entries, state: state))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case let .array(items) = node.value else { throw mismatch("an array") }
        return UnkeyedNodeContainer(node: node, items: items, state: state)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleNodeContainer(decoder: self) }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s; intValue = Int(s) }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

extension ConfigNode {
    var valuePreview: String {
        switch value {
        case let .string(s): " \"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case let .integer(i): " \(i)"
        case let .float(d): " \(d)"
        case let .bool(b): " \(b)"
        case let .datetime(d): " \(d)"
        case .array, .table: ""
        }
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let node: ConfigNode
    let entries: [(key: String, node: ConfigNode)]
    let state: DecodingState
    var codingPath: [any CodingKey] { node.path.map { AnyKey($0) } }

    var allKeys: [Key] {
        entries.compactMap { e in
            guard let k = Key(stringValue: e.key) else { return nil }
            state.request(node, e.key)
            return k
        }
    }

    func child(_ key: Key) throws -> ConfigNode {
        state.request(node, key.stringValue)
        guard let c = entries.first(where: { $0.key == key.stringValue })?.node else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing required key '\(key.stringValue)'"))
        }
        return c
    }

    func contains(_ key: Key) -> Bool {
        state.request(node, key.stringValue)
        return entries.contains { $0.key == key.stringValue }
    }

    func decodeNil(forKey key: Key) throws -> Bool { !contains(key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try T(from: NodeDecoder(node: try child(key), state: state))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        return try decode(type, forKey: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: try child(key), state: state).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try NodeDecoder(node: try child(key), state: state).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { NodeDecoder(node: node, state: state) }
    func superDecoder(forKey key: Key) throws -> any Decoder { NodeDecoder(node: try child(key), state: state) }
}

struct UnkeyedNodeContainer: UnkeyedDecodingContainer {
    let node: ConfigNode
    let items: [ConfigNode]
    let state: DecodingState
    var currentIndex = 0
    var codingPath: [any CodingKey] { node.path.map { AnyKey($0) } }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next() throws -> ConfigNode {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "not enough elements"))
        }
        defer { currentIndex += 1 }
        return items[currentIndex]
    }

    mutating func decodeNil() throws -> Bool { false }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: NodeDecoder(node: try next(), state: state)) }
    mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
        try NodeDecoder(node: try next(), state: state).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try NodeDecoder(node: try next(), state: state).unkeyedContainer()
    }
    mutating func superDecoder() throws -> any Decoder { NodeDecoder(node: try next(), state: state) }
}

struct SingleNodeContainer: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    var node: ConfigNode { decoder.node }

    func decodeNil() -> Bool { false }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case let .bool(b) = node.value else { throw decoder.mismatch("true or false") }
        return b
    }

    func decode(_ type: String.Type) throws -> String {
        switch node.value {
        case let .string(s): return s
        case let .datetime(s): return s
        default: throw decoder.mismatch("a string")
        }
    }

    func decode(_ type: Double.Type) throws -> Double {
        switch node.value {
        case let .float(d): return d
        case let .integer(i): return Double(i)
        default: throw decoder.mismatch("a number")
        }
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    func decode<T: BinaryInteger & Decodable>(integer type: T.Type) throws -> T {
        guard case let .integer(i) = node.value else { throw decoder.mismatch("an integer") }
        guard let v = T(exactly: i) else { throw decoder.mismatch("an integer that fits \(T.self)") }
        return v
    }

    func decode(_ type: Int.Type) throws -> Int { try decode(integer: type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decode(integer: type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decode(integer: type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decode(integer: type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decode(integer: type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decode(integer: type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decode(integer: type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decode(integer: type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decode(integer: type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decode(integer: type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: decoder) }
}
