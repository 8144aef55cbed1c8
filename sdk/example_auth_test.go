package sdk_test

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// users is an auth provider for Basic, Digest and Require: all three
// interfaces on one value.
type users map[string]string // user → password

// CheckPassword compares in constant time, and as long for unknown users.
func (u users) CheckPassword(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
	want, known := u[user]
	if !known {
		want = "\x00never a password"
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 || !known {
		if !known {
			return sdk.AuthnUserNotFound, nil
		}
		return sdk.AuthnDenied, nil
	}
	return sdk.AuthnGranted, r.SetNote("auth-source", "users")
}

// GetRealmHash answers AuthDigestProvider with what htdigest stores.
func (u users) GetRealmHash(r *sdk.Request, user, realm string) (string, sdk.AuthnResult, error) {
	pw, ok := u[user]
	if !ok {
		return "", sdk.AuthnUserNotFound, nil
	}
	sum := md5.Sum([]byte(user + ":" + realm + ":" + pw))
	return hex.EncodeToString(sum[:]), sdk.AuthnGranted, nil
}

// CheckAuthorization answers `Require gobridge <plugin> user NAME...`.
func (u users) CheckAuthorization(r *sdk.Request, user string, args []string) (sdk.AuthzResult, error) {
	switch {
	case len(args) == 0 || args[0] != "user":
		return sdk.AuthzGeneralError, fmt.Errorf("Require: want 'user NAME...', got %q", args)
	case user == "":
		return sdk.AuthzDeniedNoUser, nil
	case slices.Contains(args[1:], user):
		return sdk.AuthzGranted, nil
	}
	return sdk.AuthzDenied, nil
}

func ExamplePasswordChecker() {
	var p sdk.PasswordChecker = users{"ann": "s3cret"}
	for _, try := range [][2]string{{"ann", "s3cret"}, {"ann", "guess"}, {"bob", "x"}} {
		rec := sdktest.CheckPassword(nil, p, nil, try[0], try[1])
		fmt.Println(try[0], rec.Authn, rec.Notes)
	}
	// Output:
	// ann granted [{auth-source users}]
	// ann denied []
	// bob user not found []
}

func ExampleRealmHasher() {
	var h sdk.RealmHasher = users{"ann": "s3cret"}
	rec := sdktest.GetRealmHash(nil, h, nil, "ann", "private")
	fmt.Println(rec.Authn, rec.Hash)
	// Output: granted 596b32e30987c70987f99609baadbf0a
}

func ExampleRequireChecker() {
	var c sdk.RequireChecker = users{"ann": "s3cret"}
	fmt.Println(sdktest.CheckAuthorization(nil, c, nil, "ann", "user", "ann", "bob").Authz)
	fmt.Println(sdktest.CheckAuthorization(nil, c, nil, "eve", "user", "ann").Authz)
	fmt.Println(sdktest.CheckAuthorization(nil, c, nil, "", "user", "ann").Authz)
	// Output:
	// granted
	// denied
	// denied (no user)
}

func ExamplePasswordCheckerFunc() {
	// Serve with sdk.Serve(&sdk.ServeConfig{PasswordChecker: p}).
	p := sdk.PasswordCheckerFunc(func(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
		if r.Option("open-day") == "on" {
			return sdk.AuthnGranted, nil
		}
		return sdk.AuthnDenied, nil
	})
	req := sdktest.NewRequest("GET", "/", nil)
	req.Options = sdk.Pairs{{Key: "open-day", Value: "on"}}
	fmt.Println(sdktest.CheckPassword(nil, p, req, "anyone", "x").Authn)
	// Output: granted
}

func ExamplePasswordCheckerFunc_CheckPassword() {
	p := sdk.PasswordCheckerFunc(func(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
		return sdk.AuthnDenied, nil
	})
	res, err := p.CheckPassword(sdktest.NewRequest("GET", "/", nil), "ann", "x")
	fmt.Println(res, err)
	// Output: denied <nil>
}

func ExampleRequireCheckerFunc() {
	weekday := sdk.RequireCheckerFunc(func(r *sdk.Request, user string, args []string) (sdk.AuthzResult, error) {
		if slices.Contains(args, r.RequestTime.Weekday().String()) {
			return sdk.AuthzGranted, nil
		}
		return sdk.AuthzNeutral, nil
	})
	req := sdktest.NewRequest("GET", "/", nil)
	fmt.Println(sdktest.CheckAuthorization(nil, weekday, req, "", "Funday").Authz)
	// Output: neutral
}

func ExampleRequireCheckerFunc_CheckAuthorization() {
	c := sdk.RequireCheckerFunc(func(r *sdk.Request, user string, args []string) (sdk.AuthzResult, error) {
		return sdk.AuthzGranted, nil
	})
	res, err := c.CheckAuthorization(sdktest.NewRequest("GET", "/", nil), "ann", nil)
	fmt.Println(res, err)
	// Output: granted <nil>
}

func ExampleAuthnResult() {
	// An error, a panic, or a value that is not a result, is a general
	// error: the client gets 500, never a grant.
	p := sdk.PasswordCheckerFunc(func(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
		return 0, nil
	})
	fmt.Println(sdktest.CheckPassword(nil, p, nil, "ann", "x").Authn == sdk.AuthnGeneralError)
	// Output: true
}

func ExampleAuthnResult_String() {
	for _, a := range []sdk.AuthnResult{sdk.AuthnGranted, sdk.AuthnDenied, sdk.AuthnUserNotFound, sdk.AuthnGeneralError} {
		fmt.Printf("%v; ", a)
	}
	fmt.Println()
	// Output: granted; denied; user not found; general error;
}

func ExampleAuthzResult() {
	c := sdk.RequireCheckerFunc(func(r *sdk.Request, user string, args []string) (sdk.AuthzResult, error) {
		panic("bug")
	})
	fmt.Println(sdktest.CheckAuthorization(nil, c, nil, "ann").Authz == sdk.AuthzGeneralError)
	// Output: true
}

func ExampleAuthzResult_String() {
	for _, a := range []sdk.AuthzResult{sdk.AuthzGranted, sdk.AuthzDenied, sdk.AuthzDeniedNoUser, sdk.AuthzNeutral, sdk.AuthzGeneralError} {
		fmt.Printf("%v; ", a)
	}
	fmt.Println()
	// Output: granted; denied; denied (no user); neutral; general error;
}
