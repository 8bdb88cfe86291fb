/*
 * codec/error.c: the one sentence each fkex_err stands for.
 *
 * The CLI prints these after "fkex: error: ", so they are lower-case, have
 * no final period, and speak of the user's files, not of the code.
 */
#include <sodium.h>
#include "codec/codec.h"

const char *fkex_strerror(fkex_err err)
{
    switch (err) {
    case FKEX_OK:                     return "success";
    case FKEX_ERR_ARGUMENT:           return "invalid argument";
    case FKEX_ERR_NO_MEMORY:          return "out of memory";
    case FKEX_ERR_IO:                 return "reading or writing failed";
    case FKEX_ERR_BAD_ENCODING:       return "the input is malformed";
    case FKEX_ERR_TRUNCATED:          return "the input is truncated";
    case FKEX_ERR_UNSUPPORTED:        return "the input uses an unsupported version, kind, scheme or curve";
    case FKEX_ERR_NOT_IN_GROUP:       return "the input contains an invalid curve point";
    case FKEX_ERR_POLICY_SYNTAX:      return "the policy does not parse";
    case FKEX_ERR_POLICY_LIMIT:       return "the policy is too large or too deeply nested";
    case FKEX_ERR_POLICY_UNSATISFIED: return "the key's attributes do not satisfy the policy";
    case FKEX_ERR_ATTRIBUTE:          return "an attribute is malformed";
    case FKEX_ERR_AUTHENTICATION:     return "the ciphertext has been tampered with or is corrupt";
    case FKEX_ERR_WRONG_AUTHORITY:    return "the key and the ciphertext come from different authorities";
    case FKEX_ERR_WRONG_KIND:         return "the input is not the kind of object expected";
    case FKEX_ERR_REPLAY:             return "the message was already received (a replay)";
    case FKEX_ERR_WRONG_EPOCH:        return "the message belongs to another epoch of the room";
    case FKEX_ERR_WRONG_ROOM:         return "the message belongs to another room";
    case FKEX_ERR_UNEXPECTED:         return "the message was not expected at this point of the protocol";
    case FKEX_ERR_WRONG_IDENTITY:     return "the key is not for the identity the ciphertext was made for";
    case FKEX_ERR_NOT_FKEX:           return "the input is not an fkex file";
    case FKEX_ERR_TIMEOUT:            return "nothing happened within the time given";
    }
    return "unknown error";
}
