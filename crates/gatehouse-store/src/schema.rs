// Mirrors migrations/{sqlite,postgres}; the repository suite exercises every column.

diesel::table! {
    accounts (id) {
        id -> Text,
        subject -> Text,
        email -> Nullable<Text>,
        email_normalized -> Nullable<Text>,
        email_verified -> Bool,
        legacy_username -> Nullable<Text>,
        legacy_username_normalized -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        locale -> Nullable<Text>,
        zoneinfo -> Nullable<Text>,
        status -> Text,
        password_hash -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    factors (id) {
        id -> Text,
        account_id -> Text,
        kind -> Text,
        status -> Text,
        label -> Nullable<Text>,
        public_data -> Nullable<Text>,
        secret -> Nullable<Binary>,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (sequence) {
        sequence -> BigInt,
        account_id -> Nullable<Text>,
        kind -> Text,
        at -> BigInt,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::joinable!(factors -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, factors);

diesel::table! {
    clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scopes -> Text,
        auth_method -> Text,
        jwks -> Nullable<Text>,
        id_token_alg -> Text,
        first_party -> Bool,
        access_token_ttl -> BigInt,
        id_token_ttl -> BigInt,
        refresh_token_ttl -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        status -> Text,
        sealed_private_key -> Binary,
        public_jwk -> Text,
        created_at -> BigInt,
        activated_at -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        recipient -> Text,
        subject -> Text,
        sealed_body -> Nullable<Binary>,
        created_at -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        sent_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}
