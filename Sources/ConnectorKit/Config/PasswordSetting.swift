import Foundation

/// The `password` / `password_file` pair every connector with credentials takes.
public enum PasswordSetting {
    /// `password` (normally `"${ENV_VAR}"`, already expanded) or the first line of `password_file`
    /// (relative to the pipeline file); `nil` when neither is given.
    public static func resolve(_ password: Secret?, file: String?, context: PluginBuildContext, plugin: String) throws -> Secret? {
        if let password { return password }
        guard let file else { return nil }
        let path = context.resolve(file)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConnectorError(.configuration, "cannot read password_file \(path)", pipeline: context.pipeline, plugin: plugin)
        }
        return Secret(text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "")
    }

    /// The check both keys share: at most one of them.
    public static func validate(_ password: Secret?, file: String?) throws {
        if password != nil && file != nil { throw ConfigIssue(key: "password_file", message: "give either password or password_file, not both") }
    }
}
