package unwind

import (
	"errors"
	"fmt"
)

// The DWARF expressions CFI uses on x86-64 are short (PLT entries compute
// their CFA from rsp and rip): a small stack machine with the operations
// compilers emit there, every step bounded.
const (
	opAddr       = 0x03
	opDeref      = 0x06
	opConst1u    = 0x08
	opConst1s    = 0x09
	opConst2u    = 0x0a
	opConst2s    = 0x0b
	opConst4u    = 0x0c
	opConst4s    = 0x0d
	opConst8u    = 0x0e
	opConstu     = 0x10
	opConsts     = 0x11
	opDup        = 0x12
	opDrop       = 0x13
	opSwap       = 0x16
	opAnd        = 0x1a
	opMinus      = 0x1c
	opOr         = 0x21
	opPlus       = 0x22
	opPlusUconst = 0x23
	opShl        = 0x24
	opShr        = 0x25
	opGe         = 0x2a
	opGt         = 0x2b
	opLe         = 0x2c
	opLt         = 0x2d
	opLit0       = 0x30
	opLit31      = 0x4f
	opBreg0      = 0x70
	opBreg31     = 0x8f
)

func (u *Unwinder) eval(expr []byte, r regs) (uint64, error) { return u.evalWithCFA(expr, r, 0) }

// evalWithCFA evaluates a DWARF expression; for a register rule the CFA is
// pushed first, as DWARF 6.4.2 says.
func (u *Unwinder) evalWithCFA(expr []byte, r regs, cfa uint64) (uint64, error) {
	var stack []uint64
	if cfa != 0 {
		stack = append(stack, cfa)
	}
	pop := func() (uint64, error) {
		if len(stack) == 0 {
			return 0, errors.New("stack underflow")
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v, nil
	}
	i := 0
	uleb := func() uint64 {
		var v uint64
		for shift := uint(0); i < len(expr) && shift < 64; shift += 7 {
			b := expr[i]
			i++
			v |= uint64(b&0x7f) << shift
			if b&0x80 == 0 {
				break
			}
		}
		return v
	}
	sleb := func() int64 {
		var v int64
		var shift uint
		var b byte
		for i < len(expr) && shift < 64 {
			b = expr[i]
			i++
			v |= int64(b&0x7f) << shift
			shift += 7
			if b&0x80 == 0 {
				break
			}
		}
		if shift < 64 && b&0x40 != 0 {
			v |= -1 << shift
		}
		return v
	}
	fixed := func(n int) (uint64, error) {
		if i+n > len(expr) {
			return 0, errors.New("expression ends early")
		}
		var v uint64
		for k := n - 1; k >= 0; k-- {
			v = v<<8 | uint64(expr[i+k])
		}
		i += n
		return v, nil
	}
	for steps := 0; i < len(expr); steps++ {
		if steps > 256 || len(stack) > 64 {
			return 0, errors.New("expression too long")
		}
		op := expr[i]
		i++
		switch {
		case op >= opLit0 && op <= opLit31:
			stack = append(stack, uint64(op-opLit0))
			continue
		case op >= opBreg0 && op <= opBreg31:
			reg := int(op - opBreg0)
			off := sleb()
			if reg >= numRegs || !r.ok[reg] {
				return 0, fmt.Errorf("register %d unknown", reg)
			}
			stack = append(stack, uint64(int64(r.v[reg])+off))
			continue
		}
		switch op {
		case opAddr, opConst8u:
			v, err := fixed(8)
			if err != nil {
				return 0, err
			}
			stack = append(stack, v)
		case opConst1u, opConst2u, opConst4u:
			n := map[byte]int{opConst1u: 1, opConst2u: 2, opConst4u: 4}[op]
			v, err := fixed(n)
			if err != nil {
				return 0, err
			}
			stack = append(stack, v)
		case opConst1s:
			v, err := fixed(1)
			if err != nil {
				return 0, err
			}
			stack = append(stack, uint64(int64(int8(v))))
		case opConst2s:
			v, err := fixed(2)
			if err != nil {
				return 0, err
			}
			stack = append(stack, uint64(int64(int16(v))))
		case opConst4s:
			v, err := fixed(4)
			if err != nil {
				return 0, err
			}
			stack = append(stack, uint64(int64(int32(v))))
		case opConstu:
			stack = append(stack, uleb())
		case opConsts:
			stack = append(stack, uint64(sleb()))
		case opPlusUconst:
			a, err := pop()
			if err != nil {
				return 0, err
			}
			stack = append(stack, a+uleb())
		case opDup:
			if len(stack) == 0 {
				return 0, errors.New("stack underflow")
			}
			stack = append(stack, stack[len(stack)-1])
		case opDrop:
			if _, err := pop(); err != nil {
				return 0, err
			}
		case opSwap:
			if len(stack) < 2 {
				return 0, errors.New("stack underflow")
			}
			n := len(stack)
			stack[n-1], stack[n-2] = stack[n-2], stack[n-1]
		case opDeref:
			a, err := pop()
			if err != nil {
				return 0, err
			}
			v, err := u.word(a)
			if err != nil {
				return 0, err
			}
			stack = append(stack, v)
		case opAnd, opMinus, opOr, opPlus, opShl, opShr, opGe, opGt, opLe, opLt:
			b, err := pop()
			if err != nil {
				return 0, err
			}
			a, err := pop()
			if err != nil {
				return 0, err
			}
			stack = append(stack, binop(op, a, b))
		default:
			return 0, fmt.Errorf("DWARF operation 0x%x not supported", op)
		}
	}
	return pop()
}

func binop(op byte, a, b uint64) uint64 {
	bool2 := func(c bool) uint64 {
		if c {
			return 1
		}
		return 0
	}
	switch op {
	case opAnd:
		return a & b
	case opMinus:
		return a - b
	case opOr:
		return a | b
	case opPlus:
		return a + b
	case opShl:
		return a << (b & 63)
	case opShr:
		return a >> (b & 63)
	case opGe:
		return bool2(int64(a) >= int64(b))
	case opGt:
		return bool2(int64(a) > int64(b))
	case opLe:
		return bool2(int64(a) <= int64(b))
	case opLt:
		return bool2(int64(a) < int64(b))
	}
	return 0
}
