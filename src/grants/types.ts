/** The grants tokenkeeper runs, and how a client proves who it is at the token endpoint. */

export type GrantType = 'password' | 'authorization_code' | 'client_credentials' | 'api_key';

export type ClientAuthMethod = 'client_secret_post' | 'client_secret_basic' | 'none';
