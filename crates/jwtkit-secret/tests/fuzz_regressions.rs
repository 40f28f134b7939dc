//! The `secret` fuzz target's committed inputs, replayed through its harness
//! (`fuzz/harness/secret.rs`) in the normal test suite: the seed corpus. (No input has failed
//! this target yet: its regression replay is added with the first file under
//! `fuzz/regressions/secret/`, see that folder's README.)

#[path = "../../../fuzz/harness/replay.rs"]
mod replay;
#[path = "../../../fuzz/harness/secret.rs"]
mod secret;

#[test]
fn secret_seed_corpus_replays() {
    let count = replay::replay("corpus", "secret", secret::run);
    assert!(count >= 10, "only {count} seeds under fuzz/corpus/secret");
}

/// Writes the seed corpus: `cargo test -p jwtkit-secret --test fuzz_regressions -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/secret; run by hand when the input layout changes"]
fn write_secret_seed_corpus() {
    let texts = [
        "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=",
        "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50",
        "a-b_c-d_e-f_g-h_i-j_k-l_m-n_o-p_q-r_s-t_u-v_w-x_y-z_0-1_2-3",
        "00ff10AbCdEf0123456789abcdef0123456789ABCDEF0123456789abcdef0123",
        "my-test-secret-key-32-characters!",
        "p\u{e4}ssw\u{f6}rd \u{1F511} with spaces\n",
    ];
    for (index, encoding) in secret::ENCODINGS.iter().enumerate() {
        for (n, text) in texts.iter().enumerate() {
            replay::write_seed(
                "secret",
                &format!("{encoding}-{n}"),
                &[&[index as u8], text.as_bytes()].concat(),
            );
        }
    }
}
