;; The depthwise convolution's two gradients, for tfjs's wasm backend (wasm-gradient-kernels.ts), with
;; channel multiplier 1 and dilation 1; taps that fall in the padding are skipped.
;;   filter: dW[ky, kx, c]    = sum over n, oy, ox of x[n, oy*sh - pt + ky, ox*sw - pl + kx, c] * dy[n, oy, ox, c]
;;   input:  dx[n, iy, ix, c] = sum over the (oy, ox, ky, kx) with iy = oy*sh - pt + ky, ix = ox*sw - pl + kx
;;                              of dy[n, oy, ox, c] * W[ky, kx, c]
;; x and dx are NHWC [N, H, W, C], dy is [N, Ho, Wo, C], W and dW are [KH, KW, C]; all float32, given as
;; byte offsets into this module's memory. C must be a multiple of 4: each step of the innermost loops is
;; one f32x4 multiply-add over 4 channels. Both walk dy once in order and, for each of its pixels, every
;; tap that lands inside the input: the filter gradient accumulates into KH*KW rows that stay in cache,
;; the input gradient scatters into dx.
;; Compiled by `npm run build:wasm-kernels` into depthwise-grads.bytes.ts.
(module
  (memory (export "memory") 1)
  (func (export "depthwiseFilterGrad")
    (param $x i32) (param $dy i32) (param $out i32)
    (param $N i32) (param $H i32) (param $W i32) (param $C i32)
    (param $Ho i32) (param $Wo i32) (param $sh i32) (param $sw i32)
    (param $pt i32) (param $pl i32) (param $KH i32) (param $KW i32)
    (local $n i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32)
    (local $iy i32) (local $ix i32) (local $cb i32) (local $rowB i32)
    (local $dyRow i32) (local $xRow i32) (local $oRow i32) (local $i i32) (local $end i32)
    (local.set $rowB (i32.shl (local.get $C) (i32.const 2)))
    ;; zero the output
    (local.set $i (local.get $out))
    (local.set $end (i32.add (local.get $out) (i32.mul (i32.mul (local.get $KH) (local.get $KW)) (local.get $rowB))))
    (block $z (loop $zl
      (br_if $z (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (local.get $i) (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $zl)))
    (local.set $dyRow (local.get $dy))
    (local.set $n (i32.const 0))
    (block $bn (loop $ln
      (br_if $bn (i32.ge_s (local.get $n) (local.get $N)))
      (local.set $oy (i32.const 0))
      (block $boy (loop $loy
        (br_if $boy (i32.ge_s (local.get $oy) (local.get $Ho)))
        (local.set $ox (i32.const 0))
        (block $box (loop $lox
          (br_if $box (i32.ge_s (local.get $ox) (local.get $Wo)))
          (local.set $ky (i32.const 0))
          (block $bky (loop $lky
            (br_if $bky (i32.ge_s (local.get $ky) (local.get $KH)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $pt)) (local.get $ky)))
            (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $H)))
              (then
                (local.set $kx (i32.const 0))
                (block $bkx (loop $lkx
                  (br_if $bkx (i32.ge_s (local.get $kx) (local.get $KW)))
                  (local.set $ix (i32.add (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $pl)) (local.get $kx)))
                  (if (i32.and (i32.ge_s (local.get $ix) (i32.const 0)) (i32.lt_s (local.get $ix) (local.get $W)))
                    (then
                      (local.set $xRow (i32.add (local.get $x)
                        (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (local.get $iy)) (local.get $W)) (local.get $ix)) (local.get $rowB))))
                      (local.set $oRow (i32.add (local.get $out)
                        (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $KW)) (local.get $kx)) (local.get $rowB))))
                      (local.set $cb (i32.const 0))
                      (block $bc (loop $lc
                        (br_if $bc (i32.ge_u (local.get $cb) (local.get $rowB)))
                        (v128.store (i32.add (local.get $oRow) (local.get $cb))
                          (f32x4.add
                            (v128.load (i32.add (local.get $oRow) (local.get $cb)))
                            (f32x4.mul
                              (v128.load (i32.add (local.get $xRow) (local.get $cb)))
                              (v128.load (i32.add (local.get $dyRow) (local.get $cb))))))
                        (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
                        (br $lc)))))
                  (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                  (br $lkx)))))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $lky)))
          (local.set $dyRow (i32.add (local.get $dyRow) (local.get $rowB)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $lox)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $loy)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ln)))
  )
  (func (export "depthwiseInputGrad")
    (param $w i32) (param $dy i32) (param $out i32)
    (param $N i32) (param $H i32) (param $W i32) (param $C i32)
    (param $Ho i32) (param $Wo i32) (param $sh i32) (param $sw i32)
    (param $pt i32) (param $pl i32) (param $KH i32) (param $KW i32)
    (local $n i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32)
    (local $iy i32) (local $ix i32) (local $cb i32) (local $rowB i32)
    (local $dyRow i32) (local $dxRow i32) (local $wRow i32) (local $i i32) (local $end i32)
    (local.set $rowB (i32.shl (local.get $C) (i32.const 2)))
    ;; zero dx (N*H*W*C floats)
    (local.set $i (local.get $out))
    (local.set $end (i32.add (local.get $out) (i32.mul (i32.mul (i32.mul (local.get $N) (local.get $H)) (local.get $W)) (local.get $rowB))))
    (block $z (loop $zl
      (br_if $z (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (local.get $i) (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $zl)))
    (local.set $dyRow (local.get $dy))
    (local.set $n (i32.const 0))
    (block $bn (loop $ln
      (br_if $bn (i32.ge_s (local.get $n) (local.get $N)))
      (local.set $oy (i32.const 0))
      (block $boy (loop $loy
        (br_if $boy (i32.ge_s (local.get $oy) (local.get $Ho)))
        (local.set $ox (i32.const 0))
        (block $box (loop $lox
          (br_if $box (i32.ge_s (local.get $ox) (local.get $Wo)))
          (local.set $ky (i32.const 0))
          (block $bky (loop $lky
            (br_if $bky (i32.ge_s (local.get $ky) (local.get $KH)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $pt)) (local.get $ky)))
            (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $H)))
              (then
                (local.set $kx (i32.const 0))
                (block $bkx (loop $lkx
                  (br_if $bkx (i32.ge_s (local.get $kx) (local.get $KW)))
                  (local.set $ix (i32.add (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $pl)) (local.get $kx)))
                  (if (i32.and (i32.ge_s (local.get $ix) (i32.const 0)) (i32.lt_s (local.get $ix) (local.get $W)))
                    (then
                      (local.set $dxRow (i32.add (local.get $out)
                        (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (local.get $iy)) (local.get $W)) (local.get $ix)) (local.get $rowB))))
                      (local.set $wRow (i32.add (local.get $w)
                        (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $KW)) (local.get $kx)) (local.get $rowB))))
                      (local.set $cb (i32.const 0))
                      (block $bc (loop $lc
                        (br_if $bc (i32.ge_u (local.get $cb) (local.get $rowB)))
                        (v128.store (i32.add (local.get $dxRow) (local.get $cb))
                          (f32x4.add
                            (v128.load (i32.add (local.get $dxRow) (local.get $cb)))
                            (f32x4.mul
                              (v128.load (i32.add (local.get $wRow) (local.get $cb)))
                              (v128.load (i32.add (local.get $dyRow) (local.get $cb))))))
                        (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
                        (br $lc)))))
                  (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                  (br $lkx)))))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $lky)))
          (local.set $dyRow (i32.add (local.get $dyRow) (local.get $rowB)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $lox)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $loy)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ln)))
  )
)
