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
;; and the filter gradient of a stride-1 convolution of a one-channel input (a LeNet's first layer),
;; over the input padded into planes xp [N][Hp][Wp] and dy made planar, gT [N][C][Ho][Wo]:
;;   pad1(x, xp, N, H, W, Hp, Wp, top, left):  xp = 0, then xp[n][top + y][left + x] = x[n, y, x]
;;   planar(g, gT, N, P, C):                   gT[n][c][p] = g[n, p, c]
;;   filterGradC1(xp, gT, acc, out, N, Hp, Wp, Ho, Wo, C, KH, KW):
;;       out[ky, kx, 0, c] = sum over n, y, x of xp[n][y + ky][x + kx] * gT[n][c][y][x]
;;   with each image's sum over 4 lanes of x in float32 and the images summed in float64 in acc
;;   (KH*KW*C doubles). Reads may run 3 floats past xp's end (see filterGradC1): gT must follow it.
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

  (func (export "pad1") (param $x i32) (param $xp i32) (param $N i32) (param $H i32) (param $W i32)
    (param $Hp i32) (param $Wp i32) (param $top i32) (param $left i32)
    (local $n i32) (local $y i32) (local $i i32) (local $dst i32)
    (call $zero (local.get $xp) (i32.shl (i32.mul (local.get $N) (i32.mul (local.get $Hp) (local.get $Wp))) (i32.const 2)))
    (block $bn (loop $ln
      (br_if $bn (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $y (i32.const 0))
      (block $by (loop $ly
        (br_if $by (i32.ge_u (local.get $y) (local.get $H)))
        (local.set $dst (i32.add (local.get $xp) (i32.shl
          (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $Hp)) (i32.add (local.get $y) (local.get $top))) (local.get $Wp))
            (local.get $left)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $bi (loop $li
          (br_if $bi (i32.ge_u (local.get $i) (local.get $W)))
          (f32.store (local.get $dst) (f32.load (local.get $x)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
          (local.set $x (i32.add (local.get $x) (i32.const 4)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $li)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $ly)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ln))))

  (func (export "planar") (param $g i32) (param $gT i32) (param $N i32) (param $P i32) (param $C i32)
    (local $n i32) (local $p i32) (local $c i32) (local $base i32) (local $planeB i32)
    (local.set $planeB (i32.shl (local.get $P) (i32.const 2)))
    (block $bn (loop $ln
      (br_if $bn (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $base (i32.add (local.get $gT) (i32.mul (i32.mul (local.get $n) (local.get $C)) (local.get $planeB))))
      (local.set $p (i32.const 0))
      (block $bp (loop $lp
        (br_if $bp (i32.ge_u (local.get $p) (local.get $P)))
        (local.set $c (i32.const 0))
        (block $bc (loop $lc
          (br_if $bc (i32.ge_u (local.get $c) (local.get $C)))
          (f32.store
            (i32.add (i32.add (local.get $base) (i32.mul (local.get $c) (local.get $planeB))) (i32.shl (local.get $p) (i32.const 2)))
            (f32.load (local.get $g)))
          (local.set $g (i32.add (local.get $g) (i32.const 4)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $lc)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $lp)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ln))))

  ;; acc[tap] += the four lanes of $v plus $s, in float64, for tap (ky, kx, c) when kx < KW.
  (func $addTap (param $acc i32) (param $ky i32) (param $kx i32) (param $c i32) (param $KW i32) (param $C i32)
    (param $v v128) (param $s f32)
    (local $a i32)
    (if (i32.lt_u (local.get $kx) (local.get $KW)) (then
      (local.set $a (i32.add (local.get $acc)
        (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $KW)) (local.get $kx)) (local.get $C)) (local.get $c)) (i32.const 3))))
      (f64.store (local.get $a) (f64.add (f64.load (local.get $a))
        (f64.add
          (f64.add (f64.promote_f32 (f32x4.extract_lane 0 (local.get $v))) (f64.promote_f32 (f32x4.extract_lane 1 (local.get $v))))
          (f64.add
            (f64.add (f64.promote_f32 (f32x4.extract_lane 2 (local.get $v))) (f64.promote_f32 (f32x4.extract_lane 3 (local.get $v))))
            (f64.promote_f32 (local.get $s)))))))))

  ;; Taps are taken four at a time (kx0 .. kx0+3), each with its own accumulator, so the four sums do
  ;; not wait on one another; lanes for kx >= KW are computed and dropped. Their reads run up to three
  ;; floats past a padded row, which stays inside the caller's block (gT follows xp).
  (func (export "filterGradC1") (param $xp i32) (param $gT i32) (param $acc i32) (param $out i32)
    (param $N i32) (param $Hp i32) (param $Wp i32) (param $Ho i32) (param $Wo i32) (param $C i32) (param $KH i32) (param $KW i32)
    (local $n i32) (local $c i32) (local $ky i32) (local $kx i32) (local $y i32) (local $x i32) (local $W4 i32)
    (local $img i32) (local $plane i32) (local $rx i32) (local $rg i32) (local $taps i32) (local $i i32)
    (local $g v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $gs f32) (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32)
    (local.set $taps (i32.mul (i32.mul (local.get $KH) (local.get $KW)) (local.get $C)))
    (call $zero (local.get $acc) (i32.shl (local.get $taps) (i32.const 3)))
    (local.set $W4 (i32.and (local.get $Wo) (i32.const -4)))
    (block $bn (loop $ln
      (br_if $bn (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $img (i32.add (local.get $xp) (i32.shl (i32.mul (i32.mul (local.get $n) (local.get $Hp)) (local.get $Wp)) (i32.const 2))))
      (local.set $c (i32.const 0))
      (block $bc (loop $lc
        (br_if $bc (i32.ge_u (local.get $c) (local.get $C)))
        (local.set $plane (i32.add (local.get $gT)
          (i32.shl (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (i32.mul (local.get $Ho) (local.get $Wo))) (i32.const 2))))
        (local.set $ky (i32.const 0))
        (block $bky (loop $lky
          (br_if $bky (i32.ge_u (local.get $ky) (local.get $KH)))
          (local.set $kx (i32.const 0))
          (block $bkx (loop $lkx
            (br_if $bkx (i32.ge_u (local.get $kx) (local.get $KW)))
            (local.set $v0 (v128.const i32x4 0 0 0 0))
            (local.set $v1 (v128.const i32x4 0 0 0 0))
            (local.set $v2 (v128.const i32x4 0 0 0 0))
            (local.set $v3 (v128.const i32x4 0 0 0 0))
            (local.set $s0 (f32.const 0))
            (local.set $s1 (f32.const 0))
            (local.set $s2 (f32.const 0))
            (local.set $s3 (f32.const 0))
            (local.set $y (i32.const 0))
            (block $by (loop $ly
              (br_if $by (i32.ge_u (local.get $y) (local.get $Ho)))
              (local.set $rx (i32.add (local.get $img)
                (i32.shl (i32.add (i32.mul (i32.add (local.get $y) (local.get $ky)) (local.get $Wp)) (local.get $kx)) (i32.const 2))))
              (local.set $rg (i32.add (local.get $plane) (i32.shl (i32.mul (local.get $y) (local.get $Wo)) (i32.const 2))))
              (local.set $x (i32.const 0))
              (block $bx (loop $lx
                (br_if $bx (i32.ge_u (local.get $x) (local.get $W4)))
                (local.set $g (v128.load (local.get $rg)))
                (local.set $v0 (f32x4.add (local.get $v0) (f32x4.mul (v128.load (local.get $rx)) (local.get $g))))
                (local.set $v1 (f32x4.add (local.get $v1) (f32x4.mul (v128.load offset=4 (local.get $rx)) (local.get $g))))
                (local.set $v2 (f32x4.add (local.get $v2) (f32x4.mul (v128.load offset=8 (local.get $rx)) (local.get $g))))
                (local.set $v3 (f32x4.add (local.get $v3) (f32x4.mul (v128.load offset=12 (local.get $rx)) (local.get $g))))
                (local.set $rx (i32.add (local.get $rx) (i32.const 16)))
                (local.set $rg (i32.add (local.get $rg) (i32.const 16)))
                (local.set $x (i32.add (local.get $x) (i32.const 4)))
                (br $lx)))
              (block $bt (loop $lt
                (br_if $bt (i32.ge_u (local.get $x) (local.get $Wo)))
                (local.set $gs (f32.load (local.get $rg)))
                (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.load (local.get $rx)) (local.get $gs))))
                (local.set $s1 (f32.add (local.get $s1) (f32.mul (f32.load offset=4 (local.get $rx)) (local.get $gs))))
                (local.set $s2 (f32.add (local.get $s2) (f32.mul (f32.load offset=8 (local.get $rx)) (local.get $gs))))
                (local.set $s3 (f32.add (local.get $s3) (f32.mul (f32.load offset=12 (local.get $rx)) (local.get $gs))))
                (local.set $rx (i32.add (local.get $rx) (i32.const 4)))
                (local.set $rg (i32.add (local.get $rg) (i32.const 4)))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br $lt)))
              (local.set $y (i32.add (local.get $y) (i32.const 1)))
              (br $ly)))
            (call $addTap (local.get $acc) (local.get $ky) (local.get $kx) (local.get $c) (local.get $KW) (local.get $C) (local.get $v0) (local.get $s0))
            (call $addTap (local.get $acc) (local.get $ky) (i32.add (local.get $kx) (i32.const 1)) (local.get $c) (local.get $KW) (local.get $C) (local.get $v1) (local.get $s1))
            (call $addTap (local.get $acc) (local.get $ky) (i32.add (local.get $kx) (i32.const 2)) (local.get $c) (local.get $KW) (local.get $C) (local.get $v2) (local.get $s2))
            (call $addTap (local.get $acc) (local.get $ky) (i32.add (local.get $kx) (i32.const 3)) (local.get $c) (local.get $KW) (local.get $C) (local.get $v3) (local.get $s3))
            (local.set $kx (i32.add (local.get $kx) (i32.const 4)))
            (br $lkx)))
          (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
          (br $lky)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $lc)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ln)))
    (block $bo (loop $lo
      (br_if $bo (i32.ge_u (local.get $i) (local.get $taps)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (f32.demote_f64 (f64.load (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $lo))))
)
