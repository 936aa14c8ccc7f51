import ConnectorKit
import Foundation

/// Adds `flag`: whether `column` is outside [min, max]. A null value gives a null flag.
public struct LimitsTransform: Transform {
    let configuration: LimitsConfiguration

    public init(_ configuration: LimitsConfiguration) { self.configuration = configuration }

    public func process(_ batch: RecordBatch, context: TransformContext, deadLetters: inout DeadLetterCollector) throws -> RecordBatch {
        guard let index = batch.schema.fields.firstIndex(where: { $0.name == configuration.column }) else {
            throw ConnectorError(.configuration, "limits: no column '\(configuration.column)' (columns: \(batch.schema.fields.map(\.name).joined(separator: ", ")))",
                                 pipeline: context.pipeline, plugin: "limits")
        }
        if batch.schema.fields.contains(where: { $0.name == configuration.flag }) {
            throw ConnectorError(.configuration, "limits: a column '\(configuration.flag)' exists already", pipeline: context.pipeline, plugin: "limits")
        }
        var flags: [Bool] = []
        var valid: [Bool] = []
        flags.reserveCapacity(batch.count)
        valid.reserveCapacity(batch.count)
        for row in 0..<batch.count {
            let number: Double? = switch batch.value(row: row, column: index) {
            case let .int(v): Double(v)
            case let .double(v): v
            case let .decimal(v, scale): Double(v) / pow(10, Double(scale))
            case .null: nil
            default:
                throw ConnectorError(.configuration, "limits: column '\(configuration.column)' is \(batch.schema.fields[index].type), not a number",
                                     pipeline: context.pipeline, plugin: "limits")
            }
            guard let number else {
                flags.append(false)
                valid.append(false)
                continue
            }
            flags.append(number < (configuration.min ?? -.infinity) || number > (configuration.max ?? .infinity))
            valid.append(true)
        }
        var out = batch
        out.schema = Schema(batch.schema.fields + [Field(configuration.flag, .bool)])
        out.columns.append(Column(.bool(flags), validity: valid.allSatisfy { $0 } ? nil : valid))
        return out
    }
}
