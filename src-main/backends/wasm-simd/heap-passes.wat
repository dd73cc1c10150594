;; Training passes for tfjs's wasm backend (heap-kernels.ts). The module imports tfjs-wasm's own memory,
;; so it works on tensors in place: every pointer is a byte offset into that heap.
;; First, the four passes of training-mode batch normalisation over an NHWC tensor seen as M rows of C
;; channels. C must be a multiple
;; of 4; each step of the inner loops handles 4 channels as one f32x4. Sums are accumulated in float64
;; (two f64x2 per 4 channels) in a scratch area of 2*C doubles.
;;   sums(x, M, C, s):            s[c] = sum x[r, c],        s[C + c] = sum x[r, c]^2
;;   gradSums(dy, x, M, C, s):    s[c] = sum dy[r, c],       s[C + c] = sum dy[r, c] * x[r, c]
;;   affine(x, y, M, C, a, b):    y[r, c] = x[r, c] * a[c] + b[c]
;;   affine2(dy, x, out, M, C, a, b, e):  out[r, c] = dy[r, c] * a[c] + x[r, c] * b[c] + e[c]
;; and, for the activations after them (ReLU6 in MobileNet, ReLU elsewhere), their gradient over n values:
;;   maskGrad(dy, x, out, n, lo, hi):    out[i] = dy[i] where lo < x[i] <= hi, else 0
;; Compiled by `npm run build:wasm-kernels` into heap-passes.bytes.ts.
(module
  (import "env" "memory" (memory 1))

  ;; Zeroes $bytes bytes (a multiple of 4) from $p, never past them.
  (func $zero (param $p i32) (param $bytes i32)
    (local $end i32) (local $end16 i32)
    (local.set $end (i32.add (local.get $p) (local.get $bytes)))
    (local.set $end16 (i32.add (local.get $p) (i32.and (local.get $bytes) (i32.const -16))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $p) (local.get $end16)))
      (v128.store (local.get $p) (v128.const i32x4 0 0 0 0))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l)))
    (block $done4 (loop $l4
      (br_if $done4 (i32.ge_u (local.get $p) (local.get $end)))
      (f32.store (local.get $p) (f32.const 0))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $l4))))

  ;; s[c] = sum a[r, c],  s[C + c] = sum a[r, c] * b[r, c] over all rows (with b = a, the sum of squares).
  (func $pairSums (param $a i32) (param $b i32) (param $M i32) (param $C i32) (param $s i32)
    (local $rowB i32) (local $end i32) (local $cb i32) (local $p i32) (local $q i32) (local $s2 i32)
    (local $va v128) (local $vb v128) (local $alo v128) (local $ahi v128) (local $blo v128) (local $bhi v128)
    (local.set $rowB (i32.shl (local.get $C) (i32.const 2)))
    (local.set $s2 (i32.add (local.get $s) (i32.shl (local.get $C) (i32.const 3))))
    (call $zero (local.get $s) (i32.shl (local.get $C) (i32.const 4)))
    (local.set $end (i32.add (local.get $a) (i32.mul (local.get $M) (local.get $rowB))))
    (block $rows (loop $row
      (br_if $rows (i32.ge_u (local.get $a) (local.get $end)))
      (local.set $cb (i32.const 0))
      (block $chs (loop $ch
        (br_if $chs (i32.ge_u (local.get $cb) (local.get $rowB)))
        (local.set $va (v128.load (i32.add (local.get $a) (local.get $cb))))
        (local.set $vb (v128.load (i32.add (local.get $b) (local.get $cb))))
        (local.set $alo (f64x2.promote_low_f32x4 (local.get $va)))
        (local.set $ahi (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $va) (local.get $va))))
        (local.set $blo (f64x2.promote_low_f32x4 (local.get $vb)))
        (local.set $bhi (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $vb) (local.get $vb))))
        ;; first sums: s at 8 bytes per channel, so 32 bytes per 4 channels
        (local.set $p (i32.add (local.get $s) (i32.shl (local.get $cb) (i32.const 1))))
        (v128.store (local.get $p) (f64x2.add (v128.load (local.get $p)) (local.get $alo)))
        (v128.store offset=16 (local.get $p) (f64x2.add (v128.load offset=16 (local.get $p)) (local.get $ahi)))
        (local.set $q (i32.add (local.get $s2) (i32.shl (local.get $cb) (i32.const 1))))
        (v128.store (local.get $q)
          (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $alo) (local.get $blo))))
        (v128.store offset=16 (local.get $q)
          (f64x2.add (v128.load offset=16 (local.get $q)) (f64x2.mul (local.get $ahi) (local.get $bhi))))
        (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
        (br $ch)))
      (local.set $a (i32.add (local.get $a) (local.get $rowB)))
      (local.set $b (i32.add (local.get $b) (local.get $rowB)))
      (br $row))))

  (func (export "sums") (param $x i32) (param $M i32) (param $C i32) (param $s i32)
    (call $pairSums (local.get $x) (local.get $x) (local.get $M) (local.get $C) (local.get $s)))

  (func (export "gradSums") (param $dy i32) (param $x i32) (param $M i32) (param $C i32) (param $s i32)
    (call $pairSums (local.get $dy) (local.get $x) (local.get $M) (local.get $C) (local.get $s)))

  (func (export "affine") (param $x i32) (param $y i32) (param $M i32) (param $C i32) (param $a i32) (param $b i32)
    (local $rowB i32) (local $end i32) (local $cb i32)
    (local.set $rowB (i32.shl (local.get $C) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $M) (local.get $rowB))))
    (block $rows (loop $row
      (br_if $rows (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $cb (i32.const 0))
      (block $chs (loop $ch
        (br_if $chs (i32.ge_u (local.get $cb) (local.get $rowB)))
        (v128.store (i32.add (local.get $y) (local.get $cb))
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $cb))) (v128.load (i32.add (local.get $a) (local.get $cb))))
            (v128.load (i32.add (local.get $b) (local.get $cb)))))
        (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
        (br $ch)))
      (local.set $x (i32.add (local.get $x) (local.get $rowB)))
      (local.set $y (i32.add (local.get $y) (local.get $rowB)))
      (br $row))))

  (func (export "affine2") (param $dy i32) (param $x i32) (param $out i32) (param $M i32) (param $C i32)
    (param $a i32) (param $b i32) (param $e i32)
    (local $rowB i32) (local $end i32) (local $cb i32)
    (local.set $rowB (i32.shl (local.get $C) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $M) (local.get $rowB))))
    (block $rows (loop $row
      (br_if $rows (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $cb (i32.const 0))
      (block $chs (loop $ch
        (br_if $chs (i32.ge_u (local.get $cb) (local.get $rowB)))
        (v128.store (i32.add (local.get $out) (local.get $cb))
          (f32x4.add
            (f32x4.add
              (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $cb))) (v128.load (i32.add (local.get $a) (local.get $cb))))
              (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $cb))) (v128.load (i32.add (local.get $b) (local.get $cb)))))
            (v128.load (i32.add (local.get $e) (local.get $cb)))))
        (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
        (br $ch)))
      (local.set $dy (i32.add (local.get $dy) (local.get $rowB)))
      (local.set $x (i32.add (local.get $x) (local.get $rowB)))
      (local.set $out (i32.add (local.get $out) (local.get $rowB)))
      (br $row))))

  (func (export "maskGrad") (param $dy i32) (param $x i32) (param $out i32) (param $n i32) (param $lo f32) (param $hi f32)
    (local $end i32) (local $end4 i32) (local $vlo v128) (local $vhi v128) (local $v v128)
    (local.set $vlo (f32x4.splat (local.get $lo)))
    (local.set $vhi (f32x4.splat (local.get $hi)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec (loop $l
      (br_if $vec (i32.ge_u (local.get $x) (local.get $end4)))
      (local.set $v (v128.load (local.get $x)))
      (v128.store (local.get $out)
        (v128.and (v128.load (local.get $dy))
          (v128.and (f32x4.gt (local.get $v) (local.get $vlo)) (f32x4.le (local.get $v) (local.get $vhi)))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $l)))
    (block $tail (loop $t
      (br_if $tail (i32.ge_u (local.get $x) (local.get $end)))
      (f32.store (local.get $out)
        (select (f32.load (local.get $dy)) (f32.const 0)
          (i32.and (f32.gt (f32.load (local.get $x)) (local.get $lo)) (f32.le (f32.load (local.get $x)) (local.get $hi)))))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br $t))))
)
