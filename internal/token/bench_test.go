package token

import (
	"testing"
)

func BenchmarkMintAccess(b *testing.B) {
	f := newFixture(b)
	c := f.access()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.m.MintAccess(b.Context(), c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerifyAccess(b *testing.B) {
	f := newFixture(b)
	raw := f.mintAccess(b)
	aud := []string{"https://api.example.com"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.m.VerifyAccess(b.Context(), raw, testIss, aud); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMintID(b *testing.B) {
	f := newFixture(b) // ID tokens: RS256 by default
	c := f.id()
	c.AccessToken = f.mintAccess(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.m.MintID(b.Context(), c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMintIDES256 is BenchmarkMintID for a client whose
// id_token_signed_response_alg is ES256: the fast ES256 signer instead of an
// RSA-2048 signature.
func BenchmarkMintIDES256(b *testing.B) {
	f := newFixture(b)
	c := f.id()
	c.Alg = ES256
	c.AccessToken = f.mintAccess(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.m.MintID(b.Context(), c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
