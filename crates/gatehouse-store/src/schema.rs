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
        analytics_consent -> Bool,
        deleted_at -> Nullable<BigInt>,
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
        refresh_without_offline_access -> Bool,
        require_pushed_authorization_requests -> Bool,
        dpop_bound_access_tokens -> Bool,
        backchannel_logout_uri -> Nullable<Text>,
        backchannel_logout_session_required -> Bool,
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
    login_requests (id) {
        id -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        scopes -> Text,
        state -> Nullable<Text>,
        nonce -> Nullable<Text>,
        code_challenge -> Text,
        prompt_none -> Bool,
        prompt_login -> Bool,
        max_age -> Nullable<BigInt>,
        acr_values -> Text,
        login_hint -> Nullable<Text>,
        ui_locales -> Nullable<Text>,
        browser_hash -> Text,
        account_id -> Nullable<Text>,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        completed_at -> Nullable<BigInt>,
        session_id -> Nullable<Text>,
        prompt_consent -> Bool,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    otp_challenges (id) {
        id -> Text,
        login_request_id -> Text,
        account_id -> Text,
        code_hash -> Text,
        attempts -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        closed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        account_id -> Text,
        token_hash -> Text,
        amr -> Text,
        acr -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        account_id -> Text,
        session_id -> Text,
        redirect_uri -> Text,
        scopes -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Text,
        auth_time -> BigInt,
        amr -> Text,
        acr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    pushed_authorization_requests (id_hash) {
        id_hash -> Text,
        client_id -> Text,
        params -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        client_id -> Text,
        account_id -> Text,
        session_id -> Text,
        scopes -> Text,
        auth_time -> BigInt,
        amr -> Text,
        acr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
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
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    used_client_assertions (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    account_migrations (account_id) {
        account_id -> Text,
        state -> Text,
        fingerprint -> Text,
        imported_at -> BigInt,
        updated_at -> BigInt,
        first_invited_at -> Nullable<BigInt>,
        last_invited_at -> Nullable<BigInt>,
        invitations_sent -> Integer,
        link_expires_at -> Nullable<BigInt>,
        registered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    factor_guards (factor_id) {
        factor_id -> Text,
        attempts -> BigInt,
        window_started_at -> BigInt,
        last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    registration_tokens (token_hash) {
        token_hash -> Text,
        account_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        voided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    rate_limits (key) {
        key -> Text,
        window_start -> BigInt,
        hits -> Integer,
    }
}

diesel::joinable!(account_migrations -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, account_migrations);

diesel::table! {
    recovery_codes (id) {
        id -> Text,
        factor_id -> Text,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    push_devices (factor_id) {
        factor_id -> Text,
        account_id -> Text,
        ticket_hash -> Text,
        ticket_expires_at -> BigInt,
        public_jwk -> Nullable<Text>,
        push_token -> Nullable<Text>,
        name -> Nullable<Text>,
        registered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_credentials (factor_id) {
        factor_id -> Text,
        account_id -> Text,
        credential_id -> Text,
        credential -> Text,
        aaguid -> Nullable<Text>,
        transports -> Text,
        backup_eligible -> Bool,
        backup_state -> Bool,
        counter -> BigInt,
        discoverable -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    push_challenges (id) {
        id -> Text,
        factor_id -> Text,
        account_id -> Text,
        login_request_id -> Text,
        client_id -> Text,
        number -> BigInt,
        candidates -> Text,
        status -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        answered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    email_changes (id) {
        id -> Text,
        account_id -> Text,
        new_email -> Text,
        code_hash -> Text,
        attempts -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        closed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    email_undo_tokens (token_hash) {
        token_hash -> Text,
        account_id -> Text,
        old_email -> Text,
        old_email_verified -> Bool,
        new_email -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_ceremonies (id) {
        id -> Text,
        binding -> Text,
        account_id -> Nullable<Text>,
        state -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    consent_grants (account_id, client_id) {
        account_id -> Text,
        client_id -> Text,
        scopes -> Text,
        granted_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    session_clients (session_id, client_id) {
        session_id -> Text,
        client_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    logout_notices (id) {
        id -> Text,
        client_id -> Text,
        subject -> Text,
        session_id -> Text,
        created_at -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}
