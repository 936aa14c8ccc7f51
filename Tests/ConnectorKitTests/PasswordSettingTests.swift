import ConnectorKit
import Foundation
import Testing

/// A password in a connection URL is refused: the hand-written check against the regular
/// expression it replaced, on URLs of every shape.
@Suite struct PasswordSettingTests {
    static func refused(_ url: String) -> Bool {
        (try? PasswordSetting.rejectPasswordInURL(url)) == nil
    }

    @Test(arguments: [
        ("postgresql://user:secret@127.0.0.1:5432/db", true),
        ("postgresql://user:@host/db", true),
        ("postgresql://:secret@host/db", true),
        ("postgres://u:p@h", true),
        ("host=127.0.0.1 password=secret", true),
        ("postgresql://user@127.0.0.1:5432/db", false),
        ("postgresql://127.0.0.1:5432/db", false),
        ("postgresql://user@host:5432@x/db", false),
        ("postgresql://host/db?user=a:b@c", false),
        ("postgresql:///db?host=/var/run/postgresql", false),
        ("host=127.0.0.1 user=postgres", false),
        ("", false),
        ("://", false),
        ("://a:b@", true),
    ])
    func passwordsInURLsAreRefused(url: String, expected: Bool) {
        #expect(Self.refused(url) == expected, "\(url)")
        let byRegex = url.contains("password=") || url.range(of: #"://[^/@]*:[^/@]*@"#, options: .regularExpression) != nil
        #expect(byRegex == expected, "the expectation disagrees with the former regular expression for \(url)")
    }
}
