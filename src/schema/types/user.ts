import type { Document } from 'mongodb'
import { builder } from '../builder.js'
import { idString } from '../ids.js'
import { toRelaxed } from '../ejson.js'

export const UserRef = builder.objectRef<Document>('User')

UserRef.implement({
  fields: (t) => ({
    id: t.id({ resolve: (u) => idString(u._id) }),
    tenantId: t.id({ resolve: (u) => String(u.tenantId) }),
    email: t.string({ resolve: (u) => String(u.email ?? '') }),
    name: t.string({ nullable: true, resolve: (u) => (u.name as string | undefined) ?? null }),
    tier: t.string({ nullable: true, resolve: (u) => (u.tier as string | undefined) ?? null }),
    profile: t.field({ type: 'JSON', nullable: true, resolve: (u) => toRelaxed(u.profile ?? null) }),
    preferences: t.field({ type: 'JSON', nullable: true, resolve: (u) => toRelaxed(u.preferences ?? null) }),
  }),
})
