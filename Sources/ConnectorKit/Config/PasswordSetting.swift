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

    /// A connection URL must not carry a password (it would show in configs, logs and `ps`):
    /// neither `password=` nor `scheme://user:password@host`.
    public static func rejectPasswordInURL(_ url: String) throws {
        if url.contains("password=") || userInfoHasPassword(url) {
            throw ConfigIssue(key: "url", message: "holds a password; use password = \"${ENV_VAR}\", password_file or ~/.pgpass instead")
        }
    }

    /// Whether the user part of `scheme://user:password@host/…` has a `:` (before the first `@`,
    /// within the authority, which ends at the first `/`). By hand:
    /// a regular expression here loaded and compiled ICU's at every start (a few milliseconds).
    static func userInfoHasPassword(_ url: String) -> Bool {
        let bytes = Array(url.utf8)
        var i = 0
        while i + 2 < bytes.count {
            if bytes[i] == UInt8(ascii: ":") && bytes[i + 1] == UInt8(ascii: "/") && bytes[i + 2] == UInt8(ascii: "/") { break }
            i += 1
        }
        guard i + 2 < bytes.count else { return false }
        var colon = false
        for b in bytes[(i + 3)...] {
            switch b {
            case UInt8(ascii: "/"): return false
            case UInt8(ascii: "@"): return colon
            case UInt8(ascii: ":"): colon = true
            default: break
            }
        }
        return false
    }
}
