// Package account owns people's accounts: registration, the password policy,
// password hashing and verification, and the defenses around logging in.
//
// What flows through it:
//
//   - Register: the email is normalised (NormalizeEmail: trimmed, NFKC for
//     display; for the unique key, EmailKey: NFKC + case folding, marks
//     dropped, then the Unicode TS #39 confusable skeleton, so
//     "Ana@Example.com", the fullwidth "ａｎａ@example.com", "ána@…" and the
//     Cyrillic "аna@…" are one account; RekeyEmails brings stored keys to
//     that form once), the password is checked against the policy (CheckPassword:
//     at least 8 characters, at most 1024 bytes, any Unicode, never
//     truncated, not one of the 10,000 most common passwords, not the email),
//     hashed with argon2id and stored; a taken email is ErrEmailTaken.
//   - Authenticate: the login of the password grant and the login page. An
//     unknown, a disabled and a wrong-password login all answer
//     ErrInvalidCredentials after the same argon2 work (a dummy hash is
//     verified for unknown users), so neither the answer nor its timing
//     tells whether an account exists. Failures are counted in the store
//     (exact across instances) per account and per client address in fixed
//     windows: after SlowAfter failures each attempt is delayed, after
//     LockAfter the account is refused with *ThrottledError until the window
//     ends, before any hashing. Success resets the account's counter. Every
//     outcome is recorded as a security event, never with the password.
//   - ChangePassword and UpdateProfile: the current password is verified
//     (with the same throttling) before a new one is accepted.
//
// Passwords are hashed with argon2id (m=19 MiB, t=2, p=1, 16-byte salt,
// 32-byte key; OWASP's recommendation) and stored as PHC strings. Hashes with
// other parameters still verify and are rehashed at the next successful
// login. Each hash holds 19 MiB for ~20 ms, so at most MaxConcurrentHashes run
// at once; when MaxQueuedHashes callers are already waiting, the next is
// refused at once with ErrBusy, which bounds memory under a flood of logins.
//
// Passwords are normalised with NFKC before hashing (NIST SP 800-63B
// §5.1.1.2), so the same password typed on different systems verifies.
package account
