import ConnectorKit
import Foundation

/// The Sluice schema as stored in a file's key-value metadata:
/// `[{"name":"ts","type":"timestamp","nullable":true}, …]`.
enum SluiceSchemaJSON {
    private struct FieldJSON: Codable {
        var name: String
        var type: String
        var nullable: Bool
    }

    static func encode(_ schema: Schema) -> String {
        let fields = schema.fields.map { FieldJSON(name: $0.name, type: $0.type.description, nullable: $0.nullable) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(fields)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ text: String) -> Schema? {
        guard let fields = try? JSONDecoder().decode([FieldJSON].self, from: Data(text.utf8)) else { return nil }
        var out: [Field] = []
        for f in fields {
            guard let t = DataType(parsing: f.type) else { return nil }
            out.append(Field(f.name, t, nullable: f.nullable))
        }
        return Schema(out)
    }
}
