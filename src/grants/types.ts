/** The grants tokenkeeper runs, and how a client proves who it is at the token endpoint. */

/** How a connection gets its tokens: a grant of RFC 6749, or an API key. */
export type GrantType = 'password' | 'authorization_code' | 'client_credentials' | 'api_key';

/** How the client authenticates at the token endpoint (RFC 6749 §2.3, OpenID Connect names). */
export type ClientAuthMethod = 'client_secret_post' | 'client_secret_basic' | 'none';
