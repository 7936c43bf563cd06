import Testing

@testable import TierCrypto

@Suite("TierCryptoError: each error says what happened and what to do")
struct TierCryptoErrorTests {
    @Test("Messages name the cause and the remedy", arguments: [
        (TierCryptoError.keyUnavailable("mlock failed"), "mlock failed"),
        (.invalidConfiguration("capacity 0"), "capacity 0"),
        (.authenticationFailed, "nothing was freed"),
        (.cipherFailed("too small"), "too small"),
    ])
    func messages(error: TierCryptoError, fragment: String) {
        #expect(error.description.contains(fragment))
    }
}
